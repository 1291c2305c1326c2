/**
 * Starts a local nats-server child process with JetStream on a free port and a
 * temp (or given) store dir. Used by `arswarm up` and by every integration test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArswarmError, Code } from './errors.js';

/** Where Debian puts the binary; PATH is searched first. */
export const DEFAULT_NATS_SERVER_PATHS = [
  '/usr/sbin/nats-server',
  '/usr/bin/nats-server',
  '/usr/local/bin/nats-server',
];
export const NATS_INSTALL_HINT =
  'install it with `sudo apt-get install -y nats-server` (or run `npm run setup`)';

export interface NatsServerOptions {
  /** Port; 0 picks a free one. @default 0 */
  port?: number;
  /** JetStream store dir; a temp dir (removed on stop) when absent. */
  storeDir?: string;
  /** Binary path. @default first of PATH, then DEFAULT_NATS_SERVER_PATHS */
  binary?: string;
  /** Extra config text appended to the generated config (e.g. accounts). */
  extraConfig?: string;
  /** Milliseconds to wait for the port to accept connections. @default 10000 */
  startTimeoutMs?: number;
}

/** Default of NatsServerOptions.startTimeoutMs. */
export const DEFAULT_NATS_START_TIMEOUT_MS = 10_000;

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL) and removes a temp store. */
  stop(): Promise<void>;
  /** Kills the process hard, keeping the store (chaos tests). */
  kill(): Promise<void>;
  /** Starts again on the same port and store after kill(). */
  restart(): Promise<void>;
}

/** Finds the nats-server binary or throws with the install hint. */
export function findNatsServer(binary?: string): string {
  if (binary) {
    if (!existsSync(binary)) throw missing(binary);
    return binary;
  }
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const d of dirs) if (existsSync(join(d, 'nats-server'))) return join(d, 'nats-server');
  for (const p of DEFAULT_NATS_SERVER_PATHS) if (existsSync(p)) return p;
  throw missing('nats-server');
}

function missing(what: string): ArswarmError {
  return new ArswarmError(Code.FailedPrecondition, `nats-server not found (${what})`, {
    reason: 'nats_server_missing',
    hint: NATS_INSTALL_HINT,
  });
}

/** Asks the OS for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function waitForPort(port: number, timeoutMs: number, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((ok, fail) => {
    const attempt = () => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        fail(new ArswarmError(Code.Unavailable, `nats-server exited during start: ${log().slice(-2000)}`));
        return;
      }
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        ok();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline)
          fail(new ArswarmError(Code.DeadlineExceeded, `nats-server did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Starts nats-server with JetStream and resolves once it accepts connections. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = findNatsServer(options.binary);
  const port = options.port || (await freePort());
  const tempStore = !options.storeDir;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'arswarm-nats-'));
  const confDir = mkdtempSync(join(tmpdir(), 'arswarm-natsconf-'));
  const confPath = join(confDir, 'nats.conf');
  writeFileSync(
    confPath,
    [
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
      'max_payload: 8MB',
      options.extraConfig ?? '',
    ].join('\n'),
    // The extra config may hold passwords.
    { mode: 0o600 },
  );
  let proc: ChildProcess;
  let output = '';
  const launch = async () => {
    output = '';
    proc = spawn(binary, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    proc.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
    await waitForPort(port, options.startTimeoutMs ?? DEFAULT_NATS_START_TIMEOUT_MS, proc, () => output);
  };
  const exited = () =>
    new Promise<void>((r) => {
      if (proc.exitCode !== null || proc.signalCode !== null) r();
      else proc.once('exit', () => r());
    });
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return proc.pid ?? -1;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited();
        clearTimeout(t);
      }
      rmSync(confDir, { recursive: true, force: true });
      if (tempStore) rmSync(storeDir, { recursive: true, force: true });
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited();
    },
    async restart() {
      await launch();
    },
  };
}
