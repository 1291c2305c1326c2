/** Helpers for the example tests: copies of example dirs, constant rewrites, Python runs. */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The repo's `examples/` folder. */
export const EXAMPLES_DIR = resolve(import.meta.dirname, '..', '..', 'examples');

/** The interpreter with torch on this machine (Debian's); the first python3 on PATH may lack it. */
export const TORCH_PYTHON = '/usr/bin/python3';

/** Absolute path of a file in an example dir. */
export function examplePath(example: string, ...parts: string[]): string {
  return join(EXAMPLES_DIR, example, ...parts);
}

/** A throw-away copy of an example dir; `cleanup()` removes it. */
export function copyExample(example: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `arswarm-${example}-`));
  cpSync(examplePath(example), dir, {
    recursive: true,
    filter: (src) => !/(__pycache__|\.arswarm)$/.test(src),
  });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Rewrites the module-level `NAME = value` assignment of a Python file; throws when absent. */
export function setConstant(file: string, name: string, value: string): void {
  const text = readFileSync(file, 'utf8');
  const re = new RegExp(`^${name}\\s*=.*$`, 'm');
  if (!re.test(text)) throw new Error(`${name} is not assigned at module level in ${file}`);
  writeFileSync(file, text.replace(re, `${name} = ${value}`));
}

/** Result of a finished child process. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion without throwing on a non-zero exit. */
export async function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, [...args], {
      cwd: opts.cwd,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...opts.env },
      timeout: opts.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

