/**
 * Worker options: documented once here, validated and completed once by
 * resolveWorkerOptions(). Flags and env vars are read only by the CLI.
 */
import { hostname, homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_GRPC_ADDR } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import { DEFAULT_PULL_EXPIRES_MS } from '../common/nats-pull.js';
import { DEFAULT_PREFIX } from '../common/subjects.js';
import type { TrialUser } from './isolation.js';

/** Timings of one trial on the worker's monotonic clock (performance.now(), ms). */
export interface TrialTimings {
  readonly trialId: string;
  readonly workerId: string;
  /** The message arrived from JetStream. */
  readonly receivedAt: number;
  /** The target command was spawned (absent when it never ran). */
  readonly spawnedAt?: number;
  /** The target command exited. */
  readonly exitedAt?: number;
  /** The result was published. */
  readonly publishedAt: number;
  /** JetStream confirmed the ack. */
  readonly ackedAt: number;
}

/** Log lines the worker emits; the CLI prints them, tests may collect them. */
export type WorkerLogger = (
  level: 'debug' | 'info' | 'warn' | 'error',
  message: string,
  fields?: object,
) => void;

export interface WorkerOptions {
  /** NATS server URL. @default 'nats://127.0.0.1:4222' */
  natsUrl?: string;
  /** CodeService address (host:port). @default '127.0.0.1:50051' */
  codeAddr?: string;
  /** Prefix of every stream, subject and bucket. @default 'arswarm' */
  prefix?: string;
  /** NATS user (the worker role's login); the CLI reads ARSWARM_NATS_USER. @default undefined (none) */
  natsUser?: string;
  /** Password of `natsUser`; the CLI reads ARSWARM_NATS_PASSWORD or a file, never an argument. @default undefined */
  natsPassword?: string;
  /** Bearer token for gRPC calls. @default undefined (none) */
  token?: string;
  /** PEM file of the CA that signed the coordinator's gRPC certificate; plaintext gRPC when absent. @default undefined */
  caCertFile?: string;
  /** GPUs to use: 'all', 'none' (CPU mode) or nvidia-smi indices. @default 'all' */
  gpus?: 'all' | 'none' | readonly number[];
  /** Cache repo, trial work dirs and logs live here. @default '~/.cache/arswarm-worker' */
  workDir?: string;
  /** Pool label reported in heartbeats (e.g. a node group). @default '' */
  pool?: string;
  /** Worker id; with several GPUs each loop reports `<id>-gpu<index>`. @default '<hostname>-<pid>' */
  id?: string;
  /** How long a drain lets the current trial finish before killing it. @default 420000 */
  drainTimeoutMs?: number;
  /** Heartbeat period. @default 2000 */
  heartbeatMs?: number;
  /** Persisted cache dirs handed to the target, env var name -> path (created if missing). @default {} */
  cacheEnv?: Readonly<Record<string, string>>;
  /** SIGTERM -> SIGKILL grace period for the target's process group. @default 10000 */
  killGraceMs?: number;
  /** Bytes of output that travel with the result as `log_tail`. @default 8192 */
  logTailBytes?: number;
  /** Bytes of one trial's log kept on disk (the rest is dropped, the tail still travels). @default 67108864 */
  maxLogBytes?: number;
  /** Trial logs kept per loop; older ones are deleted. @default 500 */
  maxLogFiles?: number;
  /** The nvidia-smi executable. @default 'nvidia-smi' */
  nvidiaSmi?: string;
  /** Long-poll expiry when every queue is empty. @default 1000 */
  pollExpiresMs?: number;
  /** Period of GPU memory / RSS sampling while a trial runs. @default 1000 */
  memorySampleMs?: number;
  /**
   * Least time between two live learning-curve messages of one trial
   * (TrialProgress on core NATS); the last points go when the run ends. @default 1000
   */
  progressIntervalMs?: number;
  /** Where log lines go. @default JSON lines on stderr */
  logger?: WorkerLogger;
  /** Called after every acked trial (benchmarks). @default undefined */
  onTrialTimings?: (t: TrialTimings) => void;
  /**
   * Who trial code runs as: `auto` isolates trials as uid/gid 65534 when the
   * worker may switch uid (root or the capabilities in isolation.ts) and can
   * reach its work dir as that uid, else runs them as the worker; `none`
   * never isolates; given ids always do (the worker refuses to start when it cannot).
   * @default 'auto'
   */
  trialUser?: TrialUser;
}

/** Every option present. */
export type ResolvedWorkerOptions = Required<
  Omit<WorkerOptions, 'natsUser' | 'natsPassword' | 'token' | 'caCertFile' | 'onTrialTimings' | 'gpus'>
> & {
  readonly natsUser: string | undefined;
  readonly natsPassword: string | undefined;
  readonly token: string | undefined;
  readonly caCertFile: string | undefined;
  readonly gpus: 'all' | 'none' | readonly number[];
  readonly onTrialTimings: ((t: TrialTimings) => void) | undefined;
};

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
/** The coordinator's CodeService under a default config (api.grpc_host:swarm.grpc_port). */
export const DEFAULT_CODE_ADDR = DEFAULT_GRPC_ADDR;
export const DEFAULT_DRAIN_TIMEOUT_MS = 420_000;
export const DEFAULT_HEARTBEAT_MS = 2000;
export const DEFAULT_KILL_GRACE_MS = 10_000;
export const DEFAULT_LOG_TAIL_BYTES = 8192;
export const DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_LOG_FILES = 500;
export const DEFAULT_POLL_EXPIRES_MS = DEFAULT_PULL_EXPIRES_MS;
export const DEFAULT_MEMORY_SAMPLE_MS = 1000;
export const DEFAULT_PROGRESS_INTERVAL_MS = 1000;

/** The default work dir: ~/.cache/arswarm-worker. */
export function defaultWorkDir(): string {
  return join(homedir(), '.cache', 'arswarm-worker');
}

/** Writes one JSON line per message to stderr. */
export const stderrLogger: WorkerLogger = (level, message, fields) => {
  process.stderr.write(
    JSON.stringify({ t: new Date().toISOString(), level, msg: message, ...fields }) + '\n',
  );
};

const fn = <T>() => z.custom<T>((v) => typeof v === 'function', 'must be a function');

const schema = z
  .object({
    natsUrl: z.string().min(1).default(DEFAULT_NATS_URL),
    codeAddr: z
      .string()
      .regex(/^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/, 'must be host:port')
      .default(DEFAULT_CODE_ADDR),
    prefix: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_-]*$/)
      .default(DEFAULT_PREFIX),
    natsUser: z.string().min(1).optional(),
    natsPassword: z.string().min(1).optional(),
    token: z.string().min(1).optional(),
    caCertFile: z.string().min(1).optional(),
    gpus: z
      .union([z.literal('all'), z.literal('none'), z.array(z.number().int().min(0)).min(1)])
      .default('all'),
    workDir: z.string().min(1).default(defaultWorkDir),
    pool: z.string().default(''),
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be letters, digits, . _ or -')
      .default(() => `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}-${process.pid}`),
    drainTimeoutMs: z.number().int().min(0).default(DEFAULT_DRAIN_TIMEOUT_MS),
    heartbeatMs: z.number().int().min(50).default(DEFAULT_HEARTBEAT_MS),
    cacheEnv: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().min(1)).default({}),
    killGraceMs: z.number().int().min(0).default(DEFAULT_KILL_GRACE_MS),
    logTailBytes: z
      .number()
      .int()
      .min(0)
      .max(1 << 20)
      .default(DEFAULT_LOG_TAIL_BYTES),
    maxLogBytes: z.number().int().min(0).default(DEFAULT_MAX_LOG_BYTES),
    maxLogFiles: z.number().int().min(1).default(DEFAULT_MAX_LOG_FILES),
    nvidiaSmi: z.string().min(1).default('nvidia-smi'),
    pollExpiresMs: z.number().int().min(100).max(30_000).default(DEFAULT_POLL_EXPIRES_MS),
    memorySampleMs: z.number().int().min(50).default(DEFAULT_MEMORY_SAMPLE_MS),
    progressIntervalMs: z.number().int().min(50).max(60_000).default(DEFAULT_PROGRESS_INTERVAL_MS),
    logger: fn<WorkerLogger>().default(() => stderrLogger),
    onTrialTimings: fn<(t: TrialTimings) => void>().optional(),
    trialUser: z
      .union([
        z.literal('auto'),
        z.literal('none'),
        z.object({
          uid: z.number().int().min(1).max(0xfffffffe),
          gid: z.number().int().min(1).max(0xfffffffe),
        }),
      ])
      .default('auto'),
  })
  .refine((o) => (o.natsUser === undefined) === (o.natsPassword === undefined), {
    message: 'give both natsUser and natsPassword, or neither',
    path: ['natsPassword'],
  });

/** Validates options and fills every default; throws an InvalidArgument error naming the bad field. */
export function resolveWorkerOptions(options: WorkerOptions = {}): ResolvedWorkerOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    throw new ArswarmError(Code.InvalidArgument, `worker option ${field}: ${issue.message}`, { field });
  }
  const r = parsed.data;
  return {
    ...r,
    natsUser: r.natsUser,
    natsPassword: r.natsPassword,
    token: r.token,
    caCertFile: r.caCertFile,
    onTrialTimings: r.onTrialTimings,
  };
}
