/**
 * A syntax check of changed Python files before they cost a GPU slot:
 * `py_compile` on a copy in a temp dir (never in a repo). One long-lived
 * python3 process answers every check, so a busy coordinator does not pay a
 * process start per proposal. Other file types are not checked. A missing
 * python3 (or a checker that does not answer in time) skips the check
 * instead of blaming the candidate: the worker's run will tell.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ArswarmError, Code } from '../../../common/errors.js';
import type { FileChange } from '../../repo.js';

export interface SyntaxCheckOptions {
  /** @default python3 */
  python?: string;
  /** Longest wait for one answer before the check is skipped. @default 20000 */
  timeoutMs?: number;
  /** Told when a check is skipped. */
  log?: (msg: string) => void;
}

// Reads {"id", "file", "cfile"} lines, answers {"id", "ok", "error"} lines.
const SERVER = `
import json, py_compile, sys
for line in sys.stdin:
    req = json.loads(line)
    try:
        py_compile.compile(req["file"], cfile=req["cfile"], doraise=True)
        res = {"id": req["id"], "ok": True}
    except py_compile.PyCompileError as e:
        res = {"id": req["id"], "ok": False, "error": e.msg}
    except Exception as e:
        res = {"id": req["id"], "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(res) + "\\n")
    sys.stdout.flush()
`;

type Answer = { ok: boolean; error?: string; skipped?: boolean };

/** The useful tail of a py_compile error, with the temp dir taken out. */
function describe(error: string, dir: string): string {
  const text = error.split(`${dir}/`).join('').trim();
  const lines = text.split('\n').filter((l) => l.trim() && !l.startsWith('Traceback'));
  return lines.slice(-6).join('\n');
}

export class PythonSyntaxChecker {
  private proc?: ChildProcessWithoutNullStreams;
  private unavailable = false;
  private readonly pending = new Map<number, (a: Answer) => void>();
  private next = 0;
  private seq = 0;
  private dir?: string;

  constructor(private readonly o: SyntaxCheckOptions = {}) {}

  private start(): ChildProcessWithoutNullStreams {
    const p = spawn(this.o.python ?? 'python3', ['-u', '-B', '-c', SERVER], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const settleAll = (a: Answer) => {
      for (const r of this.pending.values()) r(a);
      this.pending.clear();
    };
    p.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') this.unavailable = true;
      if (this.proc === p) this.proc = undefined;
      settleAll({ ok: true, skipped: true });
    });
    p.on('exit', () => {
      if (this.proc === p) this.proc = undefined;
      settleAll({ ok: true, skipped: true });
    });
    p.stderr.resume();
    createInterface({ input: p.stdout }).on('line', (line) => {
      try {
        const a = JSON.parse(line) as Answer & { id: number };
        this.pending.get(a.id)?.(a);
        this.pending.delete(a.id);
      } catch {
        // Not an answer; ignore.
      }
    });
    p.unref();
    for (const s of [p.stdin, p.stdout, p.stderr]) (s as unknown as { unref?: () => void }).unref?.();
    return p;
  }

  private ask(file: string): Promise<Answer> {
    if (this.unavailable) return Promise.resolve({ ok: true, skipped: true });
    this.proc ??= this.start();
    const id = this.next++;
    return new Promise<Answer>((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        // A stuck checker is replaced; this file goes unchecked.
        this.proc?.kill('SIGKILL');
        resolve({ ok: true, skipped: true });
      }, this.o.timeoutMs ?? 20_000);
      this.pending.set(id, (a) => {
        clearTimeout(t);
        resolve(a);
      });
      this.proc!.stdin.write(`${JSON.stringify({ id, file, cfile: `${file}c` })}\n`);
    });
  }

  /** Throws ArswarmError(reason `syntax_error`) naming the file and line when a changed .py file does not compile. */
  async check(changes: readonly FileChange[]): Promise<void> {
    const py = changes.filter((c) => c.path.endsWith('.py'));
    if (py.length === 0 || this.unavailable) return;
    this.dir ??= mkdtempSync(join(tmpdir(), 'arswarm-syntax-'));
    const dir = join(this.dir, String(this.seq++));
    try {
      for (const c of py) {
        const file = join(dir, c.path);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, c.content);
        const a = await this.ask(file);
        if (a.skipped)
          this.o.log?.(`syntax check of ${c.path} skipped (python3 unavailable or not answering)`);
        if (!a.ok)
          throw new ArswarmError(
            Code.InvalidArgument,
            `${c.path} does not compile:\n${describe(a.error ?? '', dir)}`,
            { reason: 'syntax_error', field: c.path },
          );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Stops the python process and removes the temp dir. */
  async close(): Promise<void> {
    this.proc?.kill('SIGKILL');
    this.proc = undefined;
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

/** A one-off check (tests, tools): starts a checker, checks, stops it. */
export async function checkPythonSyntax(
  changes: readonly FileChange[],
  o: SyntaxCheckOptions = {},
): Promise<void> {
  const c = new PythonSyntaxChecker(o);
  try {
    await c.check(changes);
  } finally {
    await c.close();
  }
}
