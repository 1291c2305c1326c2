/**
 * The one hunk applier. A hunk applies where its old lines are, nearest to
 * where its header (moved by the hunks before it) puts it, trying later
 * lines before earlier ones at the same distance as `git apply` does; hunks
 * apply in order and never overlap. Lines compare with their newline, so a
 * missing final newline must match too.
 *
 * Exact (the worker, the intake, the simulation): every context and removed
 * line must match. With `fuzz` (carrying a proposal onto a newer head, the
 * audit), a hunk may also match with less context, as `git apply -C` and a
 * 3-way merge allow, down to none when it removes lines: the removed lines
 * themselves must always match.
 */
import { ArswarmError, Code } from '../errors.js';
import { fromLines, sameLine, toLines, type Line } from './lines.js';
import type { FileDiff, Hunk } from './parse.js';

export interface ApplyOptions {
  /** Let a hunk match with less context (carry-over). */
  readonly fuzz?: boolean;
}

/** Throws for hunk `index` (0-based) of a file, which matches nowhere. */
export type Mismatch = (hunk: Hunk, index: number) => never;

const strip = (l: Line): Line => ({ text: l.text, noEol: l.noEol });

/** Context lines before the first and after the last change of a hunk. */
function contextOf(h: Hunk): { before: number; after: number } {
  const ls = h.lines;
  let before = 0;
  while (before < ls.length && ls[before]!.tag === ' ') before++;
  let after = 0;
  while (after < ls.length - before && ls[ls.length - 1 - after]!.tag === ' ') after++;
  return { before, after };
}

function matchesAt(text: readonly Line[], block: readonly Line[], at: number): boolean {
  for (let j = 0; j < block.length; j++) if (!sameLine(text[at + j]!, block[j]!)) return false;
  return true;
}

/** Index of `block` in `text` within [floor, end], nearest to `near`, later first on a tie; -1 if nowhere. */
function nearest(text: readonly Line[], block: readonly Line[], near: number, floor: number): number {
  const last = text.length - block.length;
  const start = Math.max(floor, near);
  for (let d = 0; start - d >= floor || start + d <= last; d++) {
    if (start + d <= last && matchesAt(text, block, start + d)) return start + d;
    if (d > 0 && start - d >= floor && start - d <= last && matchesAt(text, block, start - d))
      return start - d;
  }
  return -1;
}

interface Found {
  at: number;
  lead: number;
  oldBlock: Line[];
  newBlock: Line[];
}

function locate(
  text: readonly Line[],
  h: Hunk,
  expected: number,
  floor: number,
  fuzz: boolean,
): Found | undefined {
  const old = h.lines.filter((l) => l.tag !== '+');
  const neu = h.lines.filter((l) => l.tag !== '-');
  const ctx = contextOf(h);
  const maxFuzz = fuzz ? Math.max(ctx.before, ctx.after) : 0;
  for (let f = 0; f <= maxFuzz; f++) {
    const lead = Math.min(f, ctx.before);
    const trail = Math.min(f, ctx.after);
    const oldBlock = old.slice(lead, old.length - trail);
    // A pure insertion keeps the context it has to anchor it.
    if (f > 0 && oldBlock.length === 0) break;
    const at = nearest(text, oldBlock, expected + lead, floor);
    if (at >= 0) return { at, lead, oldBlock, newBlock: neu.slice(lead, neu.length - trail).map(strip) };
  }
  return undefined;
}

/** The lines after a file's hunks; calls `mismatch` (which throws) for a hunk that matches nowhere. */
export function applyHunks(
  lines: readonly Line[],
  hunks: readonly Hunk[],
  mismatch: Mismatch,
  opts: ApplyOptions = {},
): Line[] {
  const out = [...lines];
  let shift = 0;
  let floor = 0;
  hunks.forEach((h, n) => {
    const base = h.oldLines === 0 ? h.oldStart : h.oldStart - 1;
    const found = locate(out, h, Math.max(0, base + shift), floor, opts.fuzz ?? false);
    if (!found) mismatch(h, n);
    const { at, lead, oldBlock, newBlock } = found;
    out.splice(at, oldBlock.length, ...newBlock);
    // Later hunks move by where this one landed and by what it added or removed.
    shift = at - lead - base + newBlock.length - oldBlock.length;
    floor = at + newBlock.length;
  });
  return out;
}

export interface ApplyTextsOptions extends ApplyOptions {
  /** Throws for a hunk of `file` that matches nowhere; by default InvalidArgument, reason `patch_does_not_apply`. */
  readonly mismatch?: (file: FileDiff, hunk: Hunk, index: number) => never;
}

function doesNotApply(file: FileDiff, h: Hunk): never {
  throw new ArswarmError(
    Code.InvalidArgument,
    `patch does not apply: the hunk at line ${h.oldStart} of ${file.path} does not match the parent`,
    { reason: 'patch_does_not_apply', field: file.path },
  );
}

/**
 * New text per changed path (undefined for a deleted file), in memory.
 * `before` has the parent's text of every changed file that exists there; a
 * file it lacks starts empty.
 */
export function applyTexts(
  files: readonly FileDiff[],
  before: ReadonlyMap<string, string | undefined>,
  opts: ApplyTextsOptions = {},
): Map<string, string | undefined> {
  const mismatch = opts.mismatch ?? doesNotApply;
  const out = new Map<string, string | undefined>();
  for (const f of files) {
    if (f.deleted) {
      out.set(f.path, undefined);
      continue;
    }
    const text = toLines(out.get(f.path) ?? before.get(f.path) ?? '');
    out.set(f.path, fromLines(applyHunks(text, f.hunks, (h, n) => mismatch(f, h, n), opts)));
  }
  return out;
}
