/**
 * Carrying a diff made against one commit onto another (a newer head, or the
 * audit's parent) in-process: no git, no lock on the coordinator's scratch
 * worktree. Hunks apply with fuzz (apply.ts); diffs that add or delete files
 * are left to git, whose headers they need.
 */
import { ArswarmError, Code } from '../errors.js';
import { applyTexts } from './apply.js';
import { parseDiff } from './parse.js';

/** Paths a diff changes, or null for one this module does not carry over (new, deleted or renamed files, or one the parser refuses). */
export function carriedPaths(diff: string): string[] | null {
  try {
    const files = parseDiff(diff);
    if (files.some((f) => f.newFile || f.deleted)) return null;
    return [...new Set(files.map((f) => f.path))];
  } catch {
    return null;
  }
}

/**
 * Applies a diff's hunks to (possibly newer) file texts, each hunk where its
 * removed lines (and as much context as still matches) are found, nearest to
 * where the diff expects it. Throws ArswarmError(Aborted, reason `conflict`)
 * when a hunk matches nowhere. Returns the new texts of the changed files.
 */
export function carryOver(diff: string, texts: ReadonlyMap<string, string>): Map<string, string> {
  const unsupported = () =>
    new ArswarmError(Code.Unimplemented, 'diff adds, deletes or renames files', { reason: 'unsupported' });
  let files;
  try {
    files = parseDiff(diff);
  } catch (err) {
    throw ArswarmError.from(err).reason === 'rename' ? unsupported() : err;
  }
  if (files.some((f) => f.newFile || f.deleted)) throw unsupported();
  for (const { path } of files)
    if (!texts.has(path))
      throw new ArswarmError(Code.Aborted, `${path} is gone`, { reason: 'conflict', field: path });
  const out = applyTexts(files, texts, {
    fuzz: true,
    mismatch: ({ path }, h) => {
      throw new ArswarmError(Code.Aborted, `a change to ${path} near line ${h.oldStart} no longer applies`, {
        reason: 'conflict',
        field: path,
      });
    },
  });
  return out as Map<string, string>;
}
