/**
 * The effect of a diff, independent of its parent and its cosmetics, so that
 * "set LEARNING_RATE to 0.002" proposed again on a later head (or written
 * `2e-3`, or with another comment) is recognised as the same idea.
 *
 * A changed module-level constant (`NAME = value` removed and added) counts
 * as `NAME = <value>` with numbers compared by value; every other added or
 * removed line counts by its text with whitespace and trailing comments
 * dropped. Two diffs have the same effect when they change the same files in
 * the same way by this measure.
 */
import { parseDiff, type FileDiff } from '../../common/diff/index.js';

/** What a diff does to one file. */
export interface FileEffect {
  /** Changed constants, `NAME=value`, sorted. */
  constants: string[];
  /** Other added lines, normalised, sorted. */
  added: string[];
  /** Other removed lines, normalised, sorted. */
  removed: string[];
}

const ASSIGN = /^([A-Z][A-Z0-9_]*)\s*(?::\s*[^=]+)?=\s*(.*?)\s*$/;

/** Drops a trailing `# comment` that is not inside a string literal. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') return line.slice(0, i);
  }
  return line;
}

const normalise = (line: string) => stripComment(line).replace(/\s+/g, ' ').trim();

/** A constant's value in canonical form: numbers by value (`2e-3` = `0.002`), else normalised text. */
export function canonicalValue(raw: string): string {
  const v = normalise(raw);
  const num = v.replace(/_/g, '');
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(num)) {
    const n = Number(num);
    if (Number.isFinite(n)) return String(n);
  }
  return v;
}

/**
 * The added and removed lines of each file of a unified diff. A diff the
 * parser refuses has no effect anyone can compare, so it changes nothing here
 * (its refusal comes from the patch check, not from this key).
 */
function changedLines(diff: string): Map<string, { added: string[]; removed: string[] }> {
  const files = new Map<string, { added: string[]; removed: string[] }>();
  let parsed: FileDiff[];
  try {
    parsed = parseDiff(diff);
  } catch {
    return files;
  }
  for (const f of parsed) {
    const cur = files.get(f.path) ?? { added: [], removed: [] };
    files.set(f.path, cur);
    for (const l of f.hunks.flatMap((h) => h.lines)) {
      if (l.tag === '+') cur.added.push(l.text);
      else if (l.tag === '-') cur.removed.push(l.text);
    }
  }
  return files;
}

/** The effect of a unified diff on each file it changes. */
export function diffEffect(diff: string): Map<string, FileEffect> {
  const out = new Map<string, FileEffect>();
  for (const [path, { added, removed }] of changedLines(diff)) {
    const removedConsts = new Map<string, number>();
    removed.forEach((l, i) => {
      const m = ASSIGN.exec(l);
      if (m) removedConsts.set(m[1]!, i);
    });
    const dropRemoved = new Set<number>();
    const constants: string[] = [];
    const other: string[] = [];
    for (const l of added) {
      const m = ASSIGN.exec(l);
      const at = m ? removedConsts.get(m[1]!) : undefined;
      if (m && at !== undefined) {
        dropRemoved.add(at);
        const before = ASSIGN.exec(removed[at]!)![2]!;
        // `2e-3` -> `0.002` is no change at all.
        if (canonicalValue(before) !== canonicalValue(m[2]!))
          constants.push(`${m[1]}=${canonicalValue(m[2]!)}`);
      } else other.push(normalise(l));
    }
    const rest = removed.filter((_, i) => !dropRemoved.has(i)).map(normalise);
    const effect: FileEffect = {
      constants: constants.sort(),
      added: other.filter(Boolean).sort(),
      removed: rest.filter(Boolean).sort(),
    };
    // A diff that only reformats (every change normalises away) has no effect on this file.
    if (effect.constants.length || effect.added.join() !== effect.removed.join()) out.set(path, effect);
  }
  return out;
}

/** One string per effect: equal for diffs that do the same thing; '' for a diff that does nothing. */
export function effectKey(diff: string): string {
  const e = diffEffect(diff);
  if (e.size === 0) return '';
  return JSON.stringify([...e.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** The effect in words, for refusal messages: `train.py: LEARNING_RATE = 0.002`. */
export function describeEffect(diff: string): string {
  const parts: string[] = [];
  for (const [path, e] of diffEffect(diff)) {
    const bits = e.constants.map((c) => c.replace('=', ' = '));
    const lines = e.added.length + e.removed.length;
    if (lines) bits.push(`${lines} other changed line${lines === 1 ? '' : 's'}`);
    parts.push(`${path}: ${bits.join(', ')}`);
  }
  return parts.join('; ');
}
