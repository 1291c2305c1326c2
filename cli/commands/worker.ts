/** `arswarm worker`: runs trials from the swarm's queues on this host's GPUs (or CPU). */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ArswarmError, Code } from '../../common/errors.js';
import { parseTrialUser } from '../trial-user.js';
import type { WorkerLogger, WorkerOptions } from '../../worker/index.js';

function parseGpus(v: string): 'all' | 'none' | number[] {
  if (v === 'all' || v === 'none') return v;
  const list = v.split(',').map((s) => Number(s.trim()));
  if (!list.length || list.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new InvalidArgumentError('expected all, none or GPU indices such as 0,2');
  }
  return list;
}

function parseMs(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected milliseconds (a whole number)');
  return n;
}

function collectCacheEnv(v: string, prev: Record<string, string>): Record<string, string> {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected KEY=PATH');
  return { ...prev, [m[1]!]: m[2]! };
}

/** The NATS password from a file (a mounted Secret) or ARSWARM_NATS_PASSWORD. */
function natsPassword(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (!file) return env.ARSWARM_NATS_PASSWORD || undefined;
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (err) {
    throw new ArswarmError(Code.InvalidArgument, `cannot read the NATS password file ${file}`, {
      field: 'nats-password-file',
      cause: err,
    });
  }
}

/** The worker token (CodeService): --token, a file (a mounted Secret), ARSWARM_WORKER_TOKEN, then ARSWARM_TOKEN. */
function workerToken(
  flag: string | undefined,
  file: string | undefined,
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (flag) return flag;
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim() || undefined;
    } catch (err) {
      throw new ArswarmError(Code.InvalidArgument, `cannot read the worker token file ${file}`, {
        field: 'token-file',
        cause: err,
      });
    }
  }
  return env.ARSWARM_WORKER_TOKEN || env.ARSWARM_TOKEN || undefined;
}

const levels = ['debug', 'info', 'warn', 'error'] as const;

function logger(min: (typeof levels)[number]): WorkerLogger {
  const floor = levels.indexOf(min);
  return (level, msg, fields) => {
    if (levels.indexOf(level) < floor) return;
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields }) + '\n');
  };
}

interface Flags {
  nats?: string;
  natsUser?: string;
  natsPasswordFile?: string;
  code?: string;
  prefix?: string;
  token?: string;
  tokenFile?: string;
  trialUser?: string;
  caCert?: string;
  gpus?: 'all' | 'none' | number[];
  workDir?: string;
  pool?: string;
  id?: string;
  drainTimeoutMs?: number;
  heartbeatMs?: number;
  cacheEnv: Record<string, string>;
  logLevel: (typeof levels)[number];
}

/** The `worker` subcommand. SIGTERM or SIGINT drains (finish or hand back the current trials), then exits 0. */
export function workerCommand(): Command {
  const env = process.env;
  return new Command('worker')
    .description('pull trials from the swarm and run them, one loop per GPU')
    .option('--nats <url>', 'NATS URL (env ARSWARM_NATS_URL)', env.ARSWARM_NATS_URL)
    .option('--nats-user <user>', 'NATS user (env ARSWARM_NATS_USER)', env.ARSWARM_NATS_USER)
    .option(
      '--nats-password-file <file>',
      'file holding the NATS password (env ARSWARM_NATS_PASSWORD_FILE; or set ARSWARM_NATS_PASSWORD)',
      env.ARSWARM_NATS_PASSWORD_FILE,
    )
    .option('--code <host:port>', 'CodeService address (env ARSWARM_CODE_ADDR)', env.ARSWARM_CODE_ADDR)
    .option('--prefix <prefix>', 'stream/subject prefix (env ARSWARM_PREFIX)', env.ARSWARM_PREFIX)
    .option('--token <token>', 'worker token for CodeService (env ARSWARM_WORKER_TOKEN or ARSWARM_TOKEN)')
    .option(
      '--token-file <file>',
      'file holding the worker token (env ARSWARM_WORKER_TOKEN_FILE)',
      env.ARSWARM_WORKER_TOKEN_FILE,
    )
    .option(
      '--trial-user <user>',
      'who trial code runs as: auto (a separate uid when root), none, UID[:GID] or a name (env ARSWARM_TRIAL_USER)',
      env.ARSWARM_TRIAL_USER,
    )
    .option(
      '--ca-cert <file>',
      'CA certificate (PEM) when the coordinator serves gRPC over TLS (env ARSWARM_CA_CERT)',
      env.ARSWARM_CA_CERT,
    )
    .option('--gpus <list>', 'all, none (CPU mode) or indices such as 0,2', parseGpus)
    .option('--work-dir <dir>', 'cache, work trees and logs (env ARSWARM_WORK_DIR)', env.ARSWARM_WORK_DIR)
    .option('--pool <name>', 'pool label for heartbeats (env ARSWARM_POOL)', env.ARSWARM_POOL)
    .option('--id <id>', 'worker id (default <hostname>-<pid>)')
    .option('--drain-timeout-ms <ms>', 'on SIGTERM, how long the current trial may still run', parseMs)
    .option('--heartbeat-ms <ms>', 'heartbeat period', parseMs)
    .option(
      '--cache-env <KEY=PATH>',
      'persisted cache dir passed to trials (repeatable)',
      collectCacheEnv,
      {},
    )
    .addOption(new Option('--log-level <level>', 'log verbosity').choices(levels).default('info'))
    .action(async (f: Flags) => {
      if (f.prefix !== undefined && !f.prefix)
        throw new ArswarmError(Code.InvalidArgument, 'empty --prefix', { field: 'prefix' });
      const options: WorkerOptions = {
        natsUrl: f.nats,
        natsUser: f.natsUser || undefined,
        // Never an argument: other processes on the host can read those.
        natsPassword: natsPassword(f.natsPasswordFile, env),
        codeAddr: f.code,
        prefix: f.prefix,
        // Read here rather than as a flag default, so --help never prints a secret.
        token: workerToken(f.token, f.tokenFile, env),
        trialUser: f.trialUser ? parseTrialUser(f.trialUser) : undefined,
        caCertFile: f.caCert,
        gpus: f.gpus,
        workDir: f.workDir,
        pool: f.pool,
        id: f.id,
        drainTimeoutMs: f.drainTimeoutMs,
        heartbeatMs: f.heartbeatMs,
        cacheEnv: f.cacheEnv,
        logger: logger(f.logLevel),
      };
      for (const k of Object.keys(options) as (keyof WorkerOptions)[])
        if (options[k] === undefined) delete options[k];
      // Loaded here, not at the top: `arswarm --help` then loads no worker code.
      const { Worker } = await import('../../worker/index.js');
      const worker = new Worker(options);
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        worker.options.logger('info', `${sig}: draining`, { signals });
        // A second signal hands running trials back at once.
        void worker.drain(signals > 1 ? 0 : undefined);
        if (signals > 1) void worker.close();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      await worker.start();
      await worker.done();
      await worker.close();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
}
