/**
 * One long-lived python3 process answering JSON-line requests, so a busy
 * coordinator or worker does not pay a process start per check (0.5-20 s under
 * load on a 2-core box). A crashed or stuck process is replaced on the next
 * request; an answer that never comes settles as `unavailable` after the
 * timeout, and the caller decides what that means (skip, refuse, fail closed).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { withDefaults } from '../option-defaults.js';

export interface PythonServerOptions {
  /** The interpreter. @default python3 */
  python?: string;
  /** Longest wait for one answer before it settles as unavailable. @default 20000 */
  timeoutMs?: number;
}

/** An answer, or why there is none. */
export type PythonAnswer<T> =
  { readonly kind: 'answer'; readonly value: T } | { readonly kind: 'unavailable'; readonly why: string };

type Settle = (a: PythonAnswer<unknown>) => void;

/** Default wait for one answer. */
export const DEFAULT_PYTHON_TIMEOUT_MS = 20_000;

/** Defaults of PythonServerOptions. */
export const PYTHON_SERVER_DEFAULTS: Required<PythonServerOptions> = {
  python: 'python3',
  timeoutMs: DEFAULT_PYTHON_TIMEOUT_MS,
};

export class PythonServer {
  private proc?: ChildProcessWithoutNullStreams;
  /** Set once python3 cannot be started at all (ENOENT): later requests answer at once. */
  private missing?: string;
  private readonly pending = new Map<number, Settle>();
  private next = 0;
  private readonly o: Required<PythonServerOptions>;

  /** `args` start the server program, e.g. `['-c', SOURCE]` or `[path]`. */
  constructor(
    private readonly args: readonly string[],
    options: PythonServerOptions = {},
  ) {
    this.o = withDefaults(PYTHON_SERVER_DEFAULTS, options);
  }

  private start(): ChildProcessWithoutNullStreams {
    const python = this.o.python;
    // -I: no user site, no environment, no script directory on sys.path; -B: no .pyc files.
    const p = spawn(python, ['-I', '-B', '-u', ...this.args], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const settleAll = (why: string) => {
      for (const r of this.pending.values()) r({ kind: 'unavailable', why });
      this.pending.clear();
    };
    p.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') this.missing = `${python} not found`;
      if (this.proc === p) this.proc = undefined;
      settleAll(err.code === 'ENOENT' ? `${python} not found` : `${python} failed: ${err.message}`);
    });
    p.on('exit', (code, signal) => {
      if (this.proc === p) this.proc = undefined;
      settleAll(`${python} exited (${signal ?? `code ${code}`})`);
    });
    // Writes to a process that just died fail with EPIPE; the exit handler settles them.
    p.stdin.on('error', () => undefined);
    p.stderr.resume();
    createInterface({ input: p.stdout }).on('line', (line) => {
      let a: { id?: unknown };
      try {
        a = JSON.parse(line) as { id?: unknown };
      } catch {
        return; // not an answer
      }
      if (typeof a.id !== 'number') return;
      this.pending.get(a.id)?.({ kind: 'answer', value: a });
      this.pending.delete(a.id);
    });
    // The checker must never keep a worker or a CLI alive on its own.
    p.unref();
    for (const s of [p.stdin, p.stdout, p.stderr]) (s as unknown as { unref?: () => void }).unref?.();
    return p;
  }

  /** Sends one request (an `id` is added) and waits for its answer. */
  request<T>(req: Record<string, unknown>): Promise<PythonAnswer<T>> {
    if (this.missing) return Promise.resolve({ kind: 'unavailable', why: this.missing });
    const proc = (this.proc ??= this.start());
    const id = this.next++;
    const timeoutMs = this.o.timeoutMs;
    return new Promise<PythonAnswer<T>>((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        // A stuck process is replaced; this request has no answer.
        proc.kill('SIGKILL');
        resolve({ kind: 'unavailable', why: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      this.pending.set(id, (a) => {
        clearTimeout(t);
        resolve(a as PythonAnswer<T>);
      });
      proc.stdin.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** True once the interpreter could not be started at all (not installed). */
  get missingInterpreter(): boolean {
    return this.missing !== undefined;
  }

  /** Stops the process; requests in flight settle as unavailable. */
  close(): void {
    this.proc?.kill('SIGKILL');
    this.proc = undefined;
  }
}
