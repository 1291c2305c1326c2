/**
 * Speeds up the target repo's read paths for the simulation without
 * changing what they return. Each git call costs tens of milliseconds here,
 * and the knobs proposer asks for a diff of every option it checks, so the
 * real git plumbing, not the decisions, would dominate a simulated day.
 *
 * - Reads at a commit (files, readFile, matching, lockedHashes) are memoised:
 *   commits are immutable, so this is exact.
 * - `makeDiff` is computed in memory when the change is unambiguous (every
 *   file keeps its line count, ends with a newline, and no changed line also
 *   occurs unchanged elsewhere), in git's format: the same headers, blob ids,
 *   hunks with 3 lines of context and git's default function-name line.
 *   Anything else goes to git. `verifyDiffs` compares the first N in-memory
 *   diffs with git's and throws on any difference.
 *
 * Merges, rebases and branch moves still run git.
 */
import { createHash } from 'node:crypto';
import { fileHunks } from '../../common/diff/index.js';
import type { FileChange, TargetRepo } from '../../coordinator/repo.js';

/** Lines of context git puts around a change. */
const CONTEXT = 3;
/** git's funcname buffer (xdiff's `func_line.buf`). */
const FUNC_LINE_MAX = 80;

export interface FastRepoStats {
  memoryDiffs: number;
  gitDiffs: number;
  verified: number;
}

/** git's blob id of a text. */
export function blobId(text: string): string {
  const body = Buffer.from(text, 'utf8');
  return createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
}

/** git's default function-name line for a hunk starting at 0-based line `start`. */
function funcLine(lines: readonly string[], start: number): string {
  for (let i = start - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (/^[A-Za-z_$]/.test(l)) return Buffer.from(l).subarray(0, FUNC_LINE_MAX).toString().trimEnd();
  }
  return '';
}

/**
 * The `git diff` of one file changed in place (same line count), or undefined
 * when the in-memory form could differ from git's.
 */
export function fileDiff(path: string, mode: string, before: string, after: string): string | undefined {
  if (!before.endsWith('\n') || !after.endsWith('\n')) return undefined;
  const a = before.slice(0, -1).split('\n');
  const b = after.slice(0, -1).split('\n');
  if (a.length !== b.length) return undefined;
  const changed: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed.push(i);
  if (changed.length === 0) return '';
  // With every changed line unique, the shortest edit script is git's: each run removed, then added.
  const oldSet = new Set(a);
  const newSet = new Set(b);
  for (const i of changed) if (newSet.has(a[i]!) || oldSet.has(b[i]!)) return undefined;
  const out = [
    `diff --git a/${path} b/${path}`,
    `index ${blobId(before).slice(0, 7)}..${blobId(after).slice(0, 7)} ${mode}`,
    `--- a/${path}`,
    `+++ b/${path}`,
    ...fileHunks(before, after, { context: CONTEXT, funcname: funcLine }),
  ];
  return `${out.join('\n')}\n`;
}

/** Installs the memoised reads and the in-memory diff on `repo`; returns live counters. */
export function speedUp(repo: TargetRepo, verifyDiffs = 0): FastRepoStats {
  const stats: FastRepoStats = { memoryDiffs: 0, gitDiffs: 0, verified: 0 };
  const memo = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => {
    const cache = new Map<string, Promise<R>>();
    return (...args: A): Promise<R> => {
      const key = JSON.stringify(args);
      let hit = cache.get(key);
      if (!hit) {
        hit = fn(...args);
        cache.set(key, hit);
        hit.catch(() => cache.delete(key));
      }
      return hit;
    };
  };
  const gitMakeDiff = repo.makeDiff.bind(repo);
  repo.files = memo(repo.files.bind(repo));
  repo.readFile = memo(repo.readFile.bind(repo));
  repo.matching = memo(repo.matching.bind(repo));
  repo.lockedHashes = memo(repo.lockedHashes.bind(repo));
  const modeOf = memo(async (commit: string, path: string) => {
    const line = await repo.raw(['ls-tree', commit, '--', path]);
    return line.split(/\s/)[0] ?? '';
  });
  repo.makeDiff = async (commit: string, changes: readonly FileChange[]): Promise<string> => {
    const parts: string[] = [];
    for (const c of [...changes].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))) {
      const before = await repo.readFile(commit, c.path);
      const mode = before === undefined ? '' : await modeOf(commit, c.path);
      const d =
        before === undefined || !/^100(644|755)$/.test(mode)
          ? undefined
          : fileDiff(c.path, mode, before, c.content);
      if (d === undefined) {
        stats.gitDiffs++;
        return gitMakeDiff(commit, changes);
      }
      parts.push(d);
    }
    stats.memoryDiffs++;
    const diff = parts.join('');
    if (stats.verified < verifyDiffs) {
      const real = await gitMakeDiff(commit, changes);
      if (real !== diff)
        throw new Error(`in-memory diff differs from git's:\n--- git\n${real}\n--- memory\n${diff}`);
      stats.verified++;
    }
    return diff;
  };
  return stats;
}
