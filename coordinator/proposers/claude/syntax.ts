/**
 * A syntax check of changed Python files before they cost a GPU slot:
 * `python3 -m py_compile` on a copy in a temp dir (never in a repo), with a
 * time limit. Other file types are not checked. A missing python3 skips the
 * check (the worker's run will tell) instead of blaming the candidate.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ArswarmError, Code } from '../../../common/errors.js';
import type { FileChange } from '../../repo.js';

export interface SyntaxCheckOptions {
  /** @default python3 */
  python?: string;
  /** @default 20000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Run {
  code: number | null;
  stderr: string;
  missing: boolean;
}

function run(cmd: string, args: string[], o: SyntaxCheckOptions): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: o.timeoutMs ?? 20_000, signal: o.signal, env: { PATH: process.env.PATH ?? '' } },
      (err, _stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : 1) : 0,
          stderr: String(stderr),
          missing: e?.code === 'ENOENT',
        });
      },
    );
  });
}

/** The useful tail of a py_compile error, with the temp dir taken out. */
function describe(stderr: string, dir: string): string {
  const text = stderr.split(`${dir}/`).join('').trim();
  const lines = text.split('\n').filter((l) => l.trim() && !l.startsWith('Traceback'));
  return lines.slice(-6).join('\n');
}

/** Throws ArswarmError(reason `syntax_error`) naming the file and line when a changed .py file does not compile. */
export async function checkPythonSyntax(
  changes: readonly FileChange[],
  o: SyntaxCheckOptions = {},
): Promise<void> {
  const py = changes.filter((c) => c.path.endsWith('.py'));
  if (py.length === 0) return;
  const dir = await mkdtemp(join(tmpdir(), 'arswarm-syntax-'));
  try {
    for (const c of py) {
      const file = join(dir, c.path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, c.content);
      const r = await run(o.python ?? 'python3', ['-B', '-m', 'py_compile', file], o);
      if (r.missing) return;
      if (o.signal?.aborted) throw new ArswarmError(Code.Cancelled, 'aborted', { reason: 'aborted' });
      if (r.code !== 0)
        throw new ArswarmError(
          Code.InvalidArgument,
          `${c.path} does not compile:\n${describe(r.stderr, dir)}`,
          {
            reason: 'syntax_error',
            field: c.path,
          },
        );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
