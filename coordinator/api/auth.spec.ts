import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlService } from '../../gen/arswarm/v1/control_pb.js';
import { apiSchema } from '../../common/config.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { CodeService } from '../../gen/arswarm/v1/code_pb.js';
import {
  allows,
  Authenticator,
  CODE_METHOD_ROLES,
  loadTokensFile,
  METHOD_ROLES,
  resolveAuth,
} from './auth.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return ArswarmError.from(err).code;
  }
  return undefined;
};

describe('Authenticator', () => {
  const auth = new Authenticator([
    { name: 'ana', token: 'viewer-token-0123456789', role: 'viewer' },
    {
      name: 'ben',
      sha256: createHash('sha256').update('reviewer-token-0123456789').digest('hex'),
      role: 'reviewer',
    },
    { name: 'ops', token: 'admin-token-0123456789ab', role: 'admin' },
    { name: 'pool-a', token: 'worker-token-0123456789', role: 'worker' },
  ]);

  it('knows tokens given in clear or as a sha256', () => {
    expect(auth.authenticate('Bearer viewer-token-0123456789')).toEqual({ name: 'ana', role: 'viewer' });
    expect(auth.authenticate('bearer reviewer-token-0123456789')).toEqual({ name: 'ben', role: 'reviewer' });
  });

  it('refuses missing, malformed and unknown tokens as Unauthenticated', () => {
    expect(code(() => auth.authenticate(undefined))).toBe(Code.Unauthenticated);
    expect(code(() => auth.authenticate('viewer-token-0123456789'))).toBe(Code.Unauthenticated);
    expect(code(() => auth.authenticate('Basic dXNlcjpwYXNz'))).toBe(Code.Unauthenticated);
    expect(code(() => auth.authenticate('Bearer viewer-token-012345678'))).toBe(Code.Unauthenticated);
  });

  it('orders roles viewer < reviewer < admin', () => {
    expect(allows('admin', 'reviewer')).toBe(true);
    expect(allows('reviewer', 'reviewer')).toBe(true);
    expect(allows('reviewer', 'admin')).toBe(false);
    expect(allows('viewer', 'reviewer')).toBe(false);
  });

  it('checks each method against its role', () => {
    expect(code(() => auth.authorize('Bearer viewer-token-0123456789', 'approve'))).toBe(
      Code.PermissionDenied,
    );
    expect(code(() => auth.authorize('Bearer reviewer-token-0123456789', 'setWorkers'))).toBe(
      Code.PermissionDenied,
    );
    expect(auth.authorize('Bearer reviewer-token-0123456789', 'approve').name).toBe('ben');
    expect(auth.authorize('Bearer admin-token-0123456789ab', 'pause').name).toBe('ops');
    expect(auth.authorize('Bearer viewer-token-0123456789', 'watchEvents').name).toBe('ana');
  });

  it('lets a worker token fetch code and nothing else; viewers and reviewers fetch no code', () => {
    expect(allows('worker', 'viewer')).toBe(false);
    for (const m of ['whoAmI', 'getStatus', 'approve', 'setWorkers'] as const)
      expect(
        code(() => auth.authorize('Bearer worker-token-0123456789', m)),
        m,
      ).toBe(Code.PermissionDenied);
    expect(auth.authorizeCode('Bearer worker-token-0123456789', 'fetchBundle').name).toBe('pool-a');
    expect(auth.authorizeCode('Bearer admin-token-0123456789ab', 'fetchBundle').name).toBe('ops');
    expect(code(() => auth.authorizeCode('Bearer viewer-token-0123456789', 'fetchBundle'))).toBe(
      Code.PermissionDenied,
    );
    expect(code(() => auth.authorizeCode('Bearer reviewer-token-0123456789', 'fetchBundle'))).toBe(
      Code.PermissionDenied,
    );
    expect(code(() => auth.authorizeCode(undefined, 'fetchBundle'))).toBe(Code.Unauthenticated);
    expect(code(() => auth.authorizeCode('Bearer wrong-token-0123456789', 'fetchBundle'))).toBe(
      Code.Unauthenticated,
    );
  });

  it('has roles for every CodeService method', () => {
    expect(Object.keys(CODE_METHOD_ROLES).sort()).toEqual(CodeService.methods.map((m) => m.localName).sort());
  });

  it('has a role for every ControlService method', () => {
    expect(Object.keys(METHOD_ROLES).sort()).toEqual(ControlService.methods.map((m) => m.localName).sort());
  });

  it('refuses one token with two roles', () => {
    expect(
      code(
        () =>
          new Authenticator([
            { name: 'a', token: 'same-token-0123456789', role: 'viewer' },
            { name: 'b', token: 'same-token-0123456789', role: 'admin' },
          ]),
      ),
    ).toBe(Code.InvalidArgument);
  });
});

describe('token sources', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a tokens file and never quotes a token in its errors', () => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-tokens-'));
    const file = join(dir, 'tokens.yaml');
    writeFileSync(file, '- {name: ana, token: viewer-token-0123456789, role: viewer}\n');
    expect(loadTokensFile(file)).toEqual([{ name: 'ana', token: 'viewer-token-0123456789', role: 'viewer' }]);
    writeFileSync(
      file,
      '- {name: ana, token: short-secret, role: viewer}\n- {name: bo, token: x-secret-0123456789, role: root}\n',
    );
    const e = (() => {
      try {
        loadTokensFile(file);
      } catch (err) {
        return ArswarmError.from(err);
      }
    })();
    expect(e?.code).toBe(Code.InvalidArgument);
    expect(e?.message).toContain('[0].token');
    expect(e?.message).toContain('[1].role');
    expect(e?.message).not.toContain('short-secret');
    writeFileSync(file, '- {name: ana, token: "unterminated-secret-0123\n');
    expect(() => loadTokensFile(file)).toThrow(/not valid YAML/);
    try {
      loadTokensFile(file);
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('unterminated-secret');
    }
  });

  it('generates one admin token when none is configured, and keeps it across restarts', () => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-tokens-'));
    const api = apiSchema.parse({});
    const first = resolveAuth({ api, stateDir: dir });
    expect(first.generated?.token).toMatch(/^arswarm_[A-Za-z0-9_-]{32}$/);
    expect(statSync(first.generated!.file).mode & 0o777).toBe(0o600);
    expect(readFileSync(first.generated!.file, 'utf8').trim()).toBe(first.generated!.token);
    const again = resolveAuth({ api, stateDir: dir });
    expect(again.generated?.token).toBe(first.generated!.token);
    expect(again.auth.authenticate(`Bearer ${first.generated!.token}`)).toEqual({
      name: 'local-admin',
      role: 'admin',
    });
  });

  it('generates nothing when tokens come from the config or a file', () => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-tokens-'));
    const file = join(dir, 'tokens.yaml');
    writeFileSync(file, '- {name: ops, token: admin-token-0123456789ab, role: admin}\n');
    const fromFile = resolveAuth({ api: apiSchema.parse({}), tokensFile: file, stateDir: dir });
    expect(fromFile.generated).toBeUndefined();
    // The admin token and the generated worker token.
    expect(fromFile.auth.size).toBe(2);
    const both = resolveAuth({
      api: apiSchema.parse({
        tokens: [{ name: 'ana', token: 'viewer-token-0123456789', role: 'viewer' }],
        tokens_file: file,
      }),
      stateDir: dir,
    });
    expect(both.auth.size).toBe(3);
  });

  it('generates a worker token unless one is configured, and an admin token unless a control token is', () => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-tokens-'));
    const gen = resolveAuth({ api: apiSchema.parse({}), stateDir: dir });
    expect(gen.generatedWorker?.file).toBe(join(dir, 'worker-token'));
    expect(statSync(gen.generatedWorker!.file).mode & 0o777).toBe(0o600);
    expect(gen.workerToken).toBe(gen.generatedWorker!.token);
    expect(gen.workerToken).not.toBe(gen.generated!.token);
    expect(gen.auth.authenticate(`Bearer ${gen.workerToken}`)).toEqual({ name: 'workers', role: 'worker' });
    expect(resolveAuth({ api: apiSchema.parse({}), stateDir: dir }).workerToken).toBe(gen.workerToken);

    // Only a worker token configured: the control API still gets its generated admin token.
    const onlyWorker = resolveAuth({
      api: apiSchema.parse({ tokens: [{ name: 'w', token: 'worker-token-0123456789', role: 'worker' }] }),
      stateDir: join(dir, 'b'),
    });
    expect(onlyWorker.generated).toBeDefined();
    expect(onlyWorker.generatedWorker).toBeUndefined();
    expect(onlyWorker.workerToken).toBe('worker-token-0123456789');

    // A mounted Secret.
    const file = join(dir, 'worker-token-secret');
    writeFileSync(file, 'secret-worker-token-abcdef\n');
    const fromFile = resolveAuth({
      api: apiSchema.parse({ worker_token_file: file }),
      stateDir: join(dir, 'c'),
    });
    expect(fromFile.generatedWorker).toBeUndefined();
    expect(fromFile.workerToken).toBe('secret-worker-token-abcdef');
    expect(fromFile.auth.authenticate('Bearer secret-worker-token-abcdef').role).toBe('worker');
    writeFileSync(file, 'short\n');
    expect(
      code(() => resolveAuth({ api: apiSchema.parse({ worker_token_file: file }), stateDir: dir })),
    ).toBe(Code.InvalidArgument);
  });

  it('validates the api section', () => {
    expect(apiSchema.safeParse({ tokens: [{ name: 'a', role: 'viewer' }] }).success).toBe(false);
    expect(apiSchema.safeParse({ tls_cert_file: 'c.pem' }).success).toBe(false);
    expect(apiSchema.parse({}).http_host).toBe('127.0.0.1');
    expect(apiSchema.parse({}).grpc_host).toBe('127.0.0.1');
  });
});
