/**
 * The long-lived python3 process behind the `optuna` proposer
 * (optuna_server.py), spoken to over JSON lines: one request a line with an
 * id, one answer a line with the same id. A process that dies or stops
 * answering is killed, and the next request starts a new one; the study it
 * held is rebuilt by the caller (`onRestart`), since every measured trial is
 * in the ledger anyway.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ArswarmError, Code } from '../../../common/errors.js';
import { withDefaults } from '../../../common/option-defaults.js';
import { OPTUNA_CLIENT_DEFAULTS } from './options.js';

const here = dirname(fileURLToPath(import.meta.url));
/**
 * The server program, shipped beside this module in the source tree; a
 * compiled copy (dist/coordinator/...) finds it in the source folder above.
 */
export const OPTUNA_SERVER =
  [
    join(here, 'optuna_server.py'),
    join(here, '..', '..', '..', '..', 'coordinator', 'proposers', 'optuna', 'optuna_server.py'),
  ].find((p) => existsSync(p)) ?? join(here, 'optuna_server.py');

/** The apt packages the server needs, named in the error when they are missing. */
export const OPTUNA_PACKAGES = 'python3-optuna python3-cmaes';

export interface OptunaClientOptions {
  /** @default /usr/bin/python3 */
  python?: string;
  /** Longest wait for one answer before the process counts as stuck (the first one includes importing optuna). @default 60000 */
  timeoutMs?: number;
  log?: (msg: string) => void;
}

type Answer = { ok: boolean; error?: string } & Record<string, unknown>;

export class OptunaClient {
  private proc?: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, (a: Answer | Error) => void>();
  private next = 1;
  private stderr = '';
  /** Processes started so far (a restart means the study must be rebuilt). */
  starts = 0;

  private readonly o: Required<Omit<OptunaClientOptions, 'log'>> & Pick<OptunaClientOptions, 'log'>;

  constructor(options: OptunaClientOptions = {}) {
    this.o = { ...options, ...withDefaults(OPTUNA_CLIENT_DEFAULTS, options) };
  }

  /** True when the next request runs in a process that holds no study yet. */
  get fresh(): boolean {
    return this.proc === undefined;
  }

  private start(): ChildProcessWithoutNullStreams {
    const p = spawn(this.o.python, ['-u', '-B', OPTUNA_SERVER], {
      env: { PATH: process.env.PATH ?? '', PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.starts++;
    this.stderr = '';
    const failAll = (err: Error) => {
      for (const r of this.pending.values()) r(err);
      this.pending.clear();
    };
    p.on('error', (err: NodeJS.ErrnoException) => {
      if (this.proc === p) this.proc = undefined;
      failAll(
        new ArswarmError(Code.FailedPrecondition, `cannot start ${this.o.python}: ${err.message}`, {
          reason: 'optuna_unavailable',
          hint: `install ${OPTUNA_PACKAGES} (apt-get install -y ${OPTUNA_PACKAGES})`,
        }),
      );
    });
    p.on('exit', (code, signal) => {
      if (this.proc === p) this.proc = undefined;
      failAll(
        new ArswarmError(
          Code.Unavailable,
          `the optuna process exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim().slice(-500)}` : ''}`,
          { reason: 'optuna_exited' },
        ),
      );
    });
    p.stderr.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-4000);
    });
    createInterface({ input: p.stdout }).on('line', (line) => {
      let a: Answer & { id?: number };
      try {
        a = JSON.parse(line) as Answer & { id?: number };
      } catch {
        return; // Not an answer (a stray print); the request times out if its answer never comes.
      }
      if (typeof a.id !== 'number') return;
      this.pending.get(a.id)?.(a);
      this.pending.delete(a.id);
    });
    return p;
  }

  /**
   * Sends one request and resolves to its answer. Throws ArswarmError: the
   * server's own error (InvalidArgument; `optuna_unavailable` when optuna
   * cannot be imported), a dead or stuck process (Unavailable, retryable).
   */
  async request(op: string, body: Record<string, unknown> = {}): Promise<Answer> {
    this.proc ??= this.start();
    const proc = this.proc;
    const id = this.next++;
    const answer = await new Promise<Answer | Error>((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        // A stuck optimizer is replaced; the caller rebuilds the study.
        proc.kill('SIGKILL');
        resolve(
          new ArswarmError(
            Code.Unavailable,
            `the optuna process did not answer "${op}" in ${this.o.timeoutMs} ms`,
            {
              reason: 'optuna_timeout',
            },
          ),
        );
      }, this.o.timeoutMs);
      this.pending.set(id, (a) => {
        clearTimeout(t);
        resolve(a);
      });
      proc.stdin.write(`${JSON.stringify({ ...body, id, op })}\n`);
    });
    if (answer instanceof Error) throw answer;
    if (!answer.ok) {
      const error = answer.error ?? 'no reason given';
      if (error.includes('install python3-optuna'))
        throw new ArswarmError(Code.FailedPrecondition, error, {
          reason: 'optuna_unavailable',
          hint: `apt-get install -y ${OPTUNA_PACKAGES}`,
        });
      throw new ArswarmError(Code.InvalidArgument, `optuna ${op}: ${error}`, { reason: 'optuna_error' });
    }
    return answer;
  }

  /** Stops the process. */
  close(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }
}
