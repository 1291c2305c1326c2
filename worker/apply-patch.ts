/**
 * Applies a checked patch to a work dir in-process, with `git apply`'s
 * semantics minus fuzz: every hunk's context and removed lines must match
 * exactly (an offset is allowed, the nearest match wins), hunks apply in
 * order, new files must not exist and deleted files must end up empty. No
 * write goes through a symlink. Spawning `git apply` cost more than the rest
 * of a trial's setup together.
 */
import { chmod, lstat, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ArswarmError, Code } from '../common/errors.js';
import type { PatchHunk, PatchLine, PatchSection } from '../common/patch-check.js';

function notApplicable(message: string, path: string): never {
  throw new ArswarmError(Code.FailedPrecondition, message, { reason: 'patch_does_not_apply', field: path });
}

/** Splits text into lines that keep their `\n` (the last one may lack it). */
export function splitLines(text: string): string[] {
  return text === '' ? [] : text.split(/(?<=\n)/);
}

const render = (l: PatchLine) => (l.noEol ? l.text : `${l.text}\n`);

/** Finds where `want` occurs in `lines` at or after `from`, nearest to `near`; -1 if nowhere. */
function locate(lines: readonly string[], want: readonly string[], near: number, from: number): number {
  const last = lines.length - want.length;
  const matches = (at: number) => want.every((w, k) => lines[at + k] === w);
  for (let d = 0; near - d >= from || near + d <= last; d++) {
    if (near + d >= from && near + d <= last && matches(near + d)) return near + d;
    if (d > 0 && near - d >= from && near - d <= last && matches(near - d)) return near - d;
  }
  return -1;
}

/** Applies the hunks of one file to its lines; throws when a hunk does not match. */
export function applyHunks(lines: string[], hunks: readonly PatchHunk[], path: string): string[] {
  const out = [...lines];
  let offset = 0;
  let floor = 0;
  hunks.forEach((h, n) => {
    const oldSide = h.lines.filter((l) => l.tag !== '+').map(render);
    const newSide = h.lines.filter((l) => l.tag !== '-').map(render);
    const expected = (h.oldLines === 0 ? h.oldStart : h.oldStart - 1) + offset;
    const at = locate(out, oldSide, Math.max(floor, expected), floor);
    if (at < 0) notApplicable(`hunk ${n + 1} of ${path} does not match the parent commit`, path);
    out.splice(at, oldSide.length, ...newSide);
    offset += newSide.length - oldSide.length;
    floor = at + newSide.length;
  });
  return out;
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
export async function applyPatch(root: string, sections: readonly PatchSection[]): Promise<void> {
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
    const before = splitLines(existing ?? '');
    const after = applyHunks(before, s.hunks, s.path);
    if (s.deleted) {
      if (after.length) notApplicable(`deleting ${s.path} leaves lines behind`, s.path);
      await unlink(file);
      continue;
    }
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, after.join(''));
    if (s.mode) await chmod(file, s.mode === '100755' ? 0o755 : 0o644);
  }
}
