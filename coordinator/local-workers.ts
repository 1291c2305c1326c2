/**
 * Local worker processes for `arswarm up`: started through the real
 * `arswarm worker` command, scaled up by spawning, scaled down by SIGTERM so
 * each worker drains (its trial finishes or is handed back) before it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ArswarmError, Code } from '../common/errors.js';
import type { NatsCredentials } from '../common/nats-permissions.js';
import { withDefaults } from '../common/option-defaults.js';
import type { PoolStatus, ScaleResult, WorkerScaler } from './scaler.js';

export const LOCAL_POOL = 'local';
/** Most local workers one machine runs. */
export const MAX_LOCAL_WORKERS = 256;

export interface LocalWorkersOptions {
  /** Path of bin/arswarm.js. */
  bin: string;
  natsUrl: string;
  /** The worker role's NATS login, handed over in the environment (never as an argument). @default none */
  natsCredentials?: NatsCredentials;
  /** The worker token for CodeService, handed over as ARSWARM_WORKER_TOKEN. @default none */
  workerToken?: string;
  codeAddr: string;
  prefix: string;
  /** Work dirs go under here, one per worker. */
  workDir: string;
  /** Lines a worker prints on stderr. */
  onStderr?: (workerId: string, line: string) => void;
  /** Grace before SIGKILL after SIGTERM, ms. @default 60000 */
  killAfterMs?: number;
}

/** Defaults of LocalWorkersOptions. */
export const LOCAL_WORKERS_DEFAULTS = { killAfterMs: 60_000 };

/** Variables of the parent a worker process does not get: other parts' credentials. */
const NOT_FOR_WORKERS =
  /^(ANTHROPIC_|OPENAI_|AWS_SECRET|GITHUB_TOKEN$|ARSWARM_(TOKEN|TOKENS_FILE|NATS_USER|NATS_PASSWORD|NATS_PASSWORD_FILE|WORKER_TOKEN|WORKER_TOKEN_FILE)$)/;

/**
 * The environment of a local worker process: the parent's, without the
 * credentials of other parts (the API key, control tokens, the coordinator's
 * NATS login), plus the worker's own NATS login and worker token.
 */
export function workerProcessEnv(
  base: NodeJS.ProcessEnv,
  login: NatsCredentials | undefined,
  workerToken?: string,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !NOT_FOR_WORKERS.test(k)) env[k] = v;
  if (login) {
    env.ARSWARM_NATS_USER = login.user;
    env.ARSWARM_NATS_PASSWORD = login.password;
  }
  if (workerToken) env.ARSWARM_WORKER_TOKEN = workerToken;
  return env;
}

export class LocalWorkers implements WorkerScaler {
  private readonly procs = new Map<string, ChildProcess>();
  private nextId = 1;

  private readonly o: LocalWorkersOptions & typeof LOCAL_WORKERS_DEFAULTS;

  constructor(options: LocalWorkersOptions) {
    this.o = { ...options, ...withDefaults(LOCAL_WORKERS_DEFAULTS, options) };
  }

  get count(): number {
    return this.procs.size;
  }

  private startOne(): void {
    const id = `local-${this.nextId++}`;
    const p = spawn(
      process.execPath,
      [
        this.o.bin,
        'worker',
        '--nats',
        this.o.natsUrl,
        '--code',
        this.o.codeAddr,
        '--prefix',
        this.o.prefix,
        '--gpus',
        'none',
        '--work-dir',
        join(this.o.workDir, id),
        '--id',
        id,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: workerProcessEnv(process.env, this.o.natsCredentials, this.o.workerToken),
      },
    );
    p.stderr?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) this.o.onStderr?.(id, line);
    });
    p.once('exit', () => this.procs.delete(id));
    this.procs.set(id, p);
  }

  private stopOne(id: string, p: ChildProcess): Promise<void> {
    this.procs.delete(id);
    return new Promise((r) => {
      if (p.exitCode !== null || p.signalCode !== null) return r();
      p.once('exit', () => r());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), this.o.killAfterMs).unref();
    });
  }

  async scale(replicas: number, pool = LOCAL_POOL): Promise<ScaleResult> {
    if (pool !== LOCAL_POOL)
      throw new ArswarmError(Code.NotFound, `no worker pool "${pool}" (local pools: ${LOCAL_POOL})`, {
        field: 'pool',
      });
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_LOCAL_WORKERS)
      throw new ArswarmError(
        Code.InvalidArgument,
        `workers must be an integer from 0 to ${MAX_LOCAL_WORKERS}`,
        { field: 'replicas' },
      );
    const previous = this.procs.size;
    while (this.procs.size < replicas) this.startOne();
    const extra = [...this.procs.entries()].slice(replicas);
    // Draining happens in the background; the new count is what was asked for.
    for (const [id, p] of extra) void this.stopOne(id, p);
    return { pool, previous, desired: replicas };
  }

  async current(): Promise<PoolStatus[]> {
    return [{ pool: LOCAL_POOL, desired: this.procs.size, ready: this.procs.size }];
  }

  /** Drains every worker and waits for them to exit. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.procs.entries()].map(([id, p]) => this.stopOne(id, p)));
  }
}
