/** Runs the system git with no prompts, pagers or hooks in the way. */
import { spawn } from 'node:child_process';
import { ArswarmError, Code } from '../common/errors.js';

export interface GitResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const GIT_ENV = { GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', GIT_OPTIONAL_LOCKS: '0' };

/** Runs `git args` in cwd, resolving whatever the exit code (check `code`). */
export function gitRaw(
  cwd: string,
  args: readonly string[],
  input?: string | Uint8Array,
  env?: Record<string, string>,
): Promise<GitResult> {
  return new Promise((ok, fail) => {
    const p = spawn('git', args, {
      cwd,
      env: { ...process.env, ...GIT_ENV, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', (err) =>
      fail(new ArswarmError(Code.Internal, `cannot run git: ${err.message}`, { cause: err })),
    );
    p.on('close', (code) => ok({ code: code ?? -1, stdout, stderr }));
    p.stdin.on('error', () => undefined);
    p.stdin.end(input);
  });
}

/** Runs git and throws an Internal error carrying stderr when it fails. */
export async function git(
  cwd: string,
  args: readonly string[],
  input?: string | Uint8Array,
  env?: Record<string, string>,
): Promise<string> {
  const r = await gitRaw(cwd, args, input, env);
  if (r.code !== 0) {
    throw new ArswarmError(
      Code.Internal,
      `git ${args[0] ?? ''} failed (${r.code}): ${r.stderr.trim().slice(0, 500)}`,
      { reason: 'git_failed' },
    );
  }
  return r.stdout;
}
