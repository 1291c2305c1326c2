import { describe, expect, it } from 'vitest';
import { ArswarmError } from '../common/errors.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, defaultWorkDir, resolveWorkerOptions } from './options.js';

describe('resolveWorkerOptions', () => {
  it('fills every default', () => {
    const o = resolveWorkerOptions();
    expect(o).toMatchObject({
      natsUrl: 'nats://127.0.0.1:4222',
      codeAddr: '127.0.0.1:50051',
      prefix: 'arswarm',
      gpus: 'all',
      workDir: defaultWorkDir(),
      pool: '',
      drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS,
      heartbeatMs: 2000,
      cacheEnv: {},
      token: undefined,
    });
    expect(o.id).toMatch(/-\d+$/);
    expect(typeof o.logger).toBe('function');
  });

  it('names the bad field', () => {
    const bad = (opts: object) => {
      try {
        resolveWorkerOptions(opts);
      } catch (err) {
        expect(err).toBeInstanceOf(ArswarmError);
        return (err as ArswarmError).field;
      }
      return undefined;
    };
    expect(bad({ codeAddr: 'no-port' })).toBe('codeAddr');
    expect(bad({ gpus: [-1] })).toBe('gpus.0');
    expect(bad({ cacheEnv: { 'BAD-NAME': '/x' } })).toBe('cacheEnv.BAD-NAME');
    expect(bad({ heartbeatMs: 1 })).toBe('heartbeatMs');
    expect(bad({ id: 'has space' })).toBe('id');
  });
});
