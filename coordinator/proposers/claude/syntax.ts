/**
 * A syntax check of changed Python files before they cost a GPU slot:
 * `py_compile` on a copy in a temp dir (never in a repo). One long-lived
 * python3 process answers every check, so a busy coordinator does not pay a
 * process start per proposal. Other file types are not checked. A missing
 * python3 (or a checker that does not answer in time) skips the check
 * instead of blaming the candidate: the worker's run will tell.
 */
import { mkdtempSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ArswarmError, Code } from '../../../common/errors.js';
import { PythonServer } from '../../../common/python-check/python-server.js';
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
  /** The long-lived python3 (common/python-check), shared machinery with the semantic check. */
  private readonly server: PythonServer;
  private unavailable = false;
  private seq = 0;
  private dir?: string;

  constructor(private readonly o: SyntaxCheckOptions = {}) {
    this.server = new PythonServer(['-c', SERVER], { python: o.python, timeoutMs: o.timeoutMs });
  }

  private async ask(file: string): Promise<Answer> {
    const a = await this.server.request<Answer>({ file, cfile: `${file}c` });
    if (a.kind === 'answer') return a.value;
    if (this.server.missingInterpreter) this.unavailable = true;
    return { ok: true, skipped: true };
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
    this.server.close();
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
