import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import { ArswarmError, Code, fromWire, toWire } from './errors.js';
import {
  GRPC_ERROR_KEY,
  GRPC_FIELD_KEY,
  GRPC_REASON_KEY,
  describeWire,
  ledgerCode,
  parseWire,
  wireOfGrpcStatus,
} from './error-wire.js';
import { createClient, listen, serviceDefinition, serviceHandlers, toStatus } from './grpc.js';
import { REASONS, isReason, reasonInfo } from './reasons.js';
import { SEMANTIC_RULES } from './python-check/rules.js';

/** What each transport must carry through unchanged, apart from one another. */
const cases: Array<[string, ArswarmError]> = [
  [
    'a refusal with reason, field and hint',
    new ArswarmError(Code.InvalidArgument, 'stages[0].pattern: needs a named group (?<value>...)', {
      reason: 'bad_pattern',
      field: 'stages[0].pattern',
      hint: String.raw`e.g. loss:\s*(?<value>[0-9.]+)`,
    }),
  ],
  [
    'non-ASCII text in the message, field and hint',
    new ArswarmError(Code.FailedPrecondition, 'Δ 0.01 ≤ 0.02: no merge', {
      reason: 'target_mismatch',
      field: 'target.constants.ΔT',
      hint: 'fix arswarm.yaml — then start again',
      candidateId: 'c00007',
      trialId: 'c00007.s0.r1',
    }),
  ],
  ['a bare error', new ArswarmError(Code.NotFound, 'no candidate "c99999"')],
  [
    'a Kubernetes status reason',
    new ArswarmError(Code.PermissionDenied, 'scale: Kubernetes API 403', {
      reason: 'k8s_403',
      hint: "the coordinator's Role allows get/patch/update on deployments/scale only",
    }),
  ],
  [
    // As long as an invalid config listing every issue, or a semantic check listing its rules, may be.
    'a long message (24 KiB, non-ASCII)',
    new ArswarmError(
      Code.InvalidArgument,
      'train.py:1: rule dynamic-code: exec() — '.repeat(580).slice(0, 24_576),
      {
        reason: 'dynamic-code',
        field: 'train.py',
        hint: 'x'.repeat(2000),
      },
    ),
  ],
];

function expectSame(got: ArswarmError, want: ArswarmError): void {
  expect(got).toBeInstanceOf(ArswarmError);
  expect({
    code: got.code,
    message: got.message,
    reason: got.reason,
    field: got.field,
    hint: got.hint,
    trialId: got.trialId,
    candidateId: got.candidateId,
  }).toEqual({
    code: want.code,
    message: want.message,
    reason: want.reason,
    field: want.field,
    hint: want.hint,
    trialId: want.trialId,
    candidateId: want.candidateId,
  });
}

describe('gRPC: a status and its trailing metadata', () => {
  let current: ArswarmError = cases[0]![1];
  const server = new grpc.Server();
  let client: ReturnType<typeof createClient<(typeof ControlService)['method']>>;
  let raw: grpc.Client;

  beforeAll(async () => {
    const impl = {
      whoAmI: async () => {
        throw current;
      },
      // eslint-disable-next-line require-yield
      watchEvents: async function* () {
        throw current;
      },
    };
    server.addService(serviceDefinition(ControlService), serviceHandlers(ControlService, impl as never));
    const port = await listen(server, '127.0.0.1', 0);
    client = createClient(ControlService, `127.0.0.1:${port}`, { timeoutMs: 10_000 });
    raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  afterAll(() => {
    client.close();
    raw.close();
    server.forceShutdown();
  });

  it.each(cases)('a unary call keeps %s', async (_what, err) => {
    current = err;
    const got = await client.whoAmI({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expectSame(got as ArswarmError, err);
  });

  it.each(cases)('a server stream keeps %s', async (_what, err) => {
    current = err;
    let got: unknown;
    try {
      for await (const ev of client.watchEvents({})) void ev;
    } catch (e) {
      got = e;
    }
    expectSame(got as ArswarmError, err);
  });

  it('sends the message alone as details, the rest only in the JSON entry', async () => {
    current = cases[0]![1];
    const status = await new Promise<grpc.ServiceError>((ok) =>
      raw.makeUnaryRequest(
        '/arswarm.v1.ControlService/WhoAmI',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (err) => ok(err!),
      ),
    );
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toBe(current.message);
    expect(status.details).not.toContain('e.g. loss');
    expect(status.metadata.get(GRPC_REASON_KEY)).toEqual(['bad_pattern']);
    expect(status.metadata.get(GRPC_FIELD_KEY)).toEqual(['stages[0].pattern']);
    const json = JSON.parse((status.metadata.get(GRPC_ERROR_KEY)[0] as Buffer).toString('utf8'));
    // The message goes once, as the details.
    expect(json).toEqual({
      code: 'InvalidArgument',
      reason: 'bad_pattern',
      field: 'stages[0].pattern',
      hint: current.hint,
    });
  });

  it('leaves a field that is not printable ASCII out of the plain key, keeping it in the JSON', () => {
    const md = toStatus(cases[1]![1]).metadata!;
    expect(md.get(GRPC_FIELD_KEY)).toEqual([]);
    expect(md.get(GRPC_REASON_KEY)).toEqual(['target_mismatch']);
  });

  it('reads an older server (plain keys, no JSON) and a status grpc-js made itself', () => {
    const plain = new Map<string, unknown[]>([
      [GRPC_REASON_KEY, ['locked_file']],
      [GRPC_FIELD_KEY, ['prepare.py']],
    ]);
    expect(wireOfGrpcStatus(3, 'prepare.py is locked', (k) => plain.get(k) ?? [])).toEqual({
      code: 'InvalidArgument',
      message: 'prepare.py is locked',
      reason: 'locked_file',
      field: 'prepare.py',
    });
    expect(wireOfGrpcStatus(14, 'No connection established', () => [])).toEqual({
      code: 'Unavailable',
      message: 'No connection established',
    });
    const broken = new Map<string, unknown[]>([[GRPC_ERROR_KEY, [Buffer.from('{not json')]]]);
    expect(wireOfGrpcStatus(5, 'gone', (k) => broken.get(k) ?? [])).toEqual({
      code: 'NotFound',
      message: 'gone',
    });
  });

  it('takes the status code over the JSON entry', () => {
    const md = new Map<string, unknown[]>([
      [GRPC_ERROR_KEY, [Buffer.from(JSON.stringify({ code: 'NotFound', reason: 'duplicate' }))]],
    ]);
    expect(wireOfGrpcStatus(6, 'm', (k) => md.get(k) ?? [])).toMatchObject({
      code: 'AlreadyExists',
      reason: 'duplicate',
    });
  });
});

describe('the wire form', () => {
  it('leaves empty fields out and names the context in details', () => {
    expect(toWire(cases[1]![1])).toEqual({
      code: 'FailedPrecondition',
      message: 'Δ 0.01 ≤ 0.02: no merge',
      reason: 'target_mismatch',
      field: 'target.constants.ΔT',
      hint: 'fix arswarm.yaml — then start again',
      details: { trialId: 'c00007.s0.r1', candidateId: 'c00007' },
    });
    expect(toWire(cases[2]![1])).toEqual({ code: 'NotFound', message: 'no candidate "c99999"' });
  });

  it('refuses what is not a wire error, and keeps a reason this build does not know', () => {
    expect(parseWire('boom')).toBeUndefined();
    expect(parseWire({ code: 'NoSuchCode', message: 'x' })).toBeUndefined();
    expect(parseWire({ code: 'NotFound' })).toBeUndefined();
    expect(parseWire({ code: 'NotFound', message: 'x', reason: 'from_the_future', hint: 7 })).toEqual({
      code: 'NotFound',
      message: 'x',
      reason: 'from_the_future',
    });
    const e = fromWire({ nope: true });
    expect(e.code).toBe(Code.Unknown);
    expect(e.message).toContain('nope');
  });

  it('prints the message, then the hint on its own line (the CLI format)', () => {
    expect(cases[0]![1].describe()).toBe(
      'stages[0].pattern: needs a named group (?<value>...)\n  hint: e.g. loss:\\s*(?<value>[0-9.]+)',
    );
    expect(describeWire(toWire(cases[2]![1]))).toBe('no candidate "c99999"');
  });

  it('records the reason in a ledger fact, else the code name', () => {
    expect(ledgerCode(toWire(cases[0]![1]))).toBe('bad_pattern');
    expect(ledgerCode(toWire(cases[2]![1]))).toBe('NotFound');
  });
});

describe('the reason table', () => {
  it('lists every semantic rule id, each with a code and a summary', () => {
    for (const rule of SEMANTIC_RULES) expect(reasonInfo(rule), rule).toBeDefined();
    for (const [reason, info] of Object.entries(REASONS)) {
      expect(Code[info.code], reason).toBeDefined();
      expect(info.summary.length, reason).toBeGreaterThan(5);
    }
  });

  it('knows its own reasons and Kubernetes statuses, nothing else', () => {
    expect(isReason('locked_file')).toBe(true);
    expect(isReason('k8s_404')).toBe(true);
    expect(isReason('locked-file')).toBe(false);
    expect(isReason('toString')).toBe(false);
    expect(reasonInfo('locked_file')?.summary).toBe('the patch edits a locked file');
  });
});
