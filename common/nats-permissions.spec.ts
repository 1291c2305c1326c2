import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  authorizationConfig,
  generateNatsUsers,
  natsCredentialsFromEnv,
  natsPermissions,
  writeNatsUsers,
} from './nats-permissions.js';
import { names } from './subjects.js';

describe('natsPermissions', () => {
  const n = names('lab');
  const p = natsPermissions(n);

  it('keeps the worker off the ledger, the queues, the control flags and stream management', () => {
    expect(p.worker.publish.deny).toEqual(['lab.events', 'lab.trials.>', '$KV.LAB_control.>']);
    expect(p.worker.publish.allow).toContain('lab.results.>');
    expect(p.worker.publish.allow).toContain('$JS.API.CONSUMER.MSG.NEXT.LAB_TRIALS.*');
    expect(p.worker.publish.allow).toContain('$JS.ACK.LAB_TRIALS.>');
    expect(p.worker.publish.allow).toContain('$KV.LAB_workers.>');
    expect(p.worker.publish.allow.some((s) => s.startsWith('$JS.API.STREAM.CREATE'))).toBe(false);
    expect(p.worker.publish.allow).not.toContain('$JS.API.>');
    expect(p.worker.subscribe.allow).toEqual(['_INBOX.>', 'lab.stop.>']);
  });

  it('lets a worker publish live progress and answer stop requests, without a right on any inbox', () => {
    expect(p.worker.publish.allow).toContain('lab.progress.>');
    expect(p.worker.publish.allow.some((s) => s.startsWith('_INBOX') || s.startsWith('lab.stop'))).toBe(
      false,
    );
    expect(p.worker.allowResponses).toBe(true);
    expect(authorizationConfig(n, generateNatsUsers())).toMatch(
      /user: "worker"[\s\S]*subscribe: \{ allow: \["_INBOX\.>", "lab\.stop\.>"\] \}, allow_responses: true \}/,
    );
  });

  it('lets the coordinator use its prefix and the JetStream API, nothing of another prefix', () => {
    expect(p.coordinator.publish.allow).toContain('lab.>');
    expect(p.coordinator.publish.allow).toContain('$JS.API.>');
    expect(p.coordinator.publish.allow.some((s) => s.includes('OTHER') || s.startsWith('other'))).toBe(false);
  });
});

describe('authorizationConfig', () => {
  it('renders both users with quoted subjects and no anonymous user', () => {
    const users = generateNatsUsers();
    const conf = authorizationConfig(names('lab'), users);
    expect(conf).toMatch(/^authorization \{/);
    expect(conf).toContain(`password: "${users.worker.password}"`);
    expect(conf).toContain('deny: ["lab.events", "lab.trials.>", "$KV.LAB_control.>"]');
    expect(conf).not.toContain('no_auth_user');
  });
});

describe('logins', () => {
  it('generates different random passwords per role and per call', () => {
    const a = generateNatsUsers();
    const b = generateNatsUsers();
    expect(a.worker.password).toMatch(/^[0-9a-f]{48}$/);
    expect(new Set([a.worker.password, a.coordinator.password, b.worker.password]).size).toBe(3);
  });

  it('writes them readable by the owner only, also over an existing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arswarm-natsusers-'));
    try {
      const file = join(dir, 'nats-users.yaml');
      writeFileSync(file, 'old', { mode: 0o644 });
      const users = generateNatsUsers();
      writeNatsUsers(file, 'nats://127.0.0.1:4222', users);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(parse(readFileSync(file, 'utf8'))).toEqual({ url: 'nats://127.0.0.1:4222', ...users });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a login from the environment, both parts or none', () => {
    expect(natsCredentialsFromEnv({})).toBeUndefined();
    expect(natsCredentialsFromEnv({ ARSWARM_NATS_USER: 'w', ARSWARM_NATS_PASSWORD: 'p' })).toEqual({
      user: 'w',
      password: 'p',
    });
    expect(() => natsCredentialsFromEnv({ ARSWARM_NATS_PASSWORD: 'secret-p' })).toThrow(
      /set both ARSWARM_NATS_USER and ARSWARM_NATS_PASSWORD/,
    );
  });
});
