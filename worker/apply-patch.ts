/**
 * Applies a checked patch to a work dir in-process, with `git apply`'s
 * semantics minus fuzz (common/diff/apply.ts, exact: every hunk's context and
 * removed lines must match, an offset is allowed, the nearest match wins,
 * hunks apply in order); new files must not exist and deleted files must end
 * up empty. No write goes through a symlink. Spawning `git apply` cost more
 * than the rest of a trial's setup together.
 */
import { chmod, lstat, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ArswarmError, Code } from '../common/errors.js';
import { applyHunks, fromLines, toLines, type FileDiff } from '../common/diff/index.js';

function notApplicable(message: string, path: string): never {
  throw new ArswarmError(Code.FailedPrecondition, message, { reason: 'patch_does_not_apply', field: path });
}

async function refuseSymlinks(root: string, path: string): Promise<void> {
  const parts = path.split('/');
  for (let k = 1; k <= parts.length; k++) {
    const p = join(root, ...parts.slice(0, k));
    const st = await lstat(p).catch(() => undefined);
    if (!st) return;
    if (st.isSymbolicLink())
      notApplicable(`${parts.slice(0, k).join('/')} is a symlink; the patch may not write through it`, path);
  }
}

/** Applies every section under `root`. */
export async function applyPatch(root: string, sections: readonly FileDiff[]): Promise<void> {
  for (const s of sections) {
    const file = join(root, s.path);
    await refuseSymlinks(root, s.path);
    const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (s.newFile && existing !== undefined) notApplicable(`${s.path} already exists`, s.path);
    if (!s.newFile && existing === undefined)
      notApplicable(`${s.path} does not exist in the parent commit`, s.path);
    const after = applyHunks(toLines(existing ?? ''), s.hunks, (_h, n) =>
      notApplicable(`hunk ${n + 1} of ${s.path} does not match the parent commit`, s.path),
    );
    if (s.deleted) {
      if (after.length) notApplicable(`deleting ${s.path} leaves lines behind`, s.path);
      await unlink(file);
      continue;
    }
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, fromLines(after));
    if (s.mode) await chmod(file, s.mode === '100755' ? 0o755 : 0o644);
  }
}
