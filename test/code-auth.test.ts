/**
 * CodeService behind the worker token, on a real coordinator: no token is
 * Unauthenticated, viewer and reviewer tokens are refused, the worker token
 * (generated into <state_dir>/worker-token) gets a bundle of the head; a real
 * worker process with a wrong or no token stops at start with a clear error.
 * The gRPC server binds loopback unless told otherwise.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArswarmError, Code } from '../common/errors.js';
import { createClient } from '../common/grpc.js';
import { CodeService } from '../gen/arswarm/v1/code_pb.js';
import { TOKENS, startControlSwarm } from './support/control-swarm.js';
import type { LocalSwarm } from './support/local-swarm.js';
import { workerArgv } from './support/local-swarm.js';
import { exited } from './support/worker-harness.js';

/** What a fetch of the head with this token ends in: the bytes received, or the error code. */
async function fetchHead(
  swarm: LocalSwarm,
  token?: string,
): Promise<{ bytes: number } | { code: Code; message: string }> {
  const client = createClient(CodeService, `127.0.0.1:${swarm.coordinator.grpcPort}`, { token });
  try {
    let bytes = 0;
    for await (const c of client.fetchBundle({ want: swarm.coordinator.ledger.state.head, have: [] }))
      bytes += c.data.length;
    return { bytes };
  } catch (err) {
    const e = ArswarmError.from(err);
    return { code: e.code, message: e.message };
  } finally {
    client.close();
  }
}

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port, timeout: 2000 });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
}

const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describe('CodeService needs the worker token', () => {
  let swarm: LocalSwarm;

  beforeAll(async () => {
    swarm = await startControlSwarm({ prefix: `codeauth${process.pid}`, workers: 0 });
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
  });

  it('refuses a call without a token, and viewer and reviewer tokens', async () => {
    expect(await fetchHead(swarm)).toMatchObject({
      code: Code.Unauthenticated,
      message: /missing bearer token/,
    });
    expect(await fetchHead(swarm, 'not-a-known-token-0123456789')).toMatchObject({
      code: Code.Unauthenticated,
    });
    expect(await fetchHead(swarm, TOKENS.viewer)).toMatchObject({ code: Code.PermissionDenied });
    expect(await fetchHead(swarm, TOKENS.reviewer)).toMatchObject({ code: Code.PermissionDenied });
  });

  it('serves the head to the worker token kept in the state dir (and to admins)', async () => {
    const token = readFileSync(join(swarm.stateDir, 'worker-token'), 'utf8').trim();
    expect(token).toBe(swarm.coordinator.api.workerToken);
    const w = await fetchHead(swarm, token);
    expect(w).toMatchObject({ bytes: expect.any(Number) });
    expect((w as { bytes: number }).bytes).toBeGreaterThan(100);
    expect(await fetchHead(swarm, TOKENS.admin)).toMatchObject({ bytes: (w as { bytes: number }).bytes });
  });

  it.each([
    ['a wrong token', ['--token', 'wrong-worker-token-0123456789'], /does not match the coordinator's/],
    ['no token', [], /give the worker token/],
  ])(
    'stops a worker with %s at start, saying why',
    async (_what, extra, hint) => {
      let output = '';
      const w = spawn(
        process.execPath,
        workerArgv(
          {
            natsUrl: swarm.nats.url,
            codePort: swarm.coordinator.grpcPort,
            prefix: swarm.config.swarm.prefix,
            gpus: 'none',
            workDir: join(swarm.dir, `bad-${extra.length}`),
          },
          extra,
        ),
        { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      w.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      w.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      expect(await exited(w)).not.toBe(0);
      expect(output).toMatch(/CodeService at 127\.0\.0\.1:\d+ refused this worker/);
      expect(output).toMatch(hint);
      expect(output).not.toContain('wrong-worker-token-0123456789');
    },
    30_000,
  );

  it.runIf(external)('binds gRPC to loopback by default', async () => {
    const port = swarm.coordinator.grpcPort;
    expect(await accepts('127.0.0.1', port)).toBe(true);
    expect(await accepts(external!, port)).toBe(false);
  });
});
