/**
 * The texts a checked patch produces, in memory: each hunk where its old lines
 * are, nearest to the line its header names (offsets allowed, as `git apply`
 * allows them; no fuzz). The intake checks these texts before a trial exists;
 * the worker checks the files `git apply` actually wrote.
 */
import { ArswarmError, Code } from '../errors.js';
import type { PatchSection } from '../patch-check.js';

interface Line {
  text: string;
  noEol: boolean;
}

function split(text: string): Line[] {
  if (text === '') return [];
  const eol = text.endsWith('\n');
  const parts = (eol ? text.slice(0, -1) : text).split('\n');
  return parts.map((t, i) => ({ text: t, noEol: !eol && i === parts.length - 1 }));
}

function join(lines: readonly Line[]): string {
  return lines.map((l) => (l.noEol ? l.text : `${l.text}\n`)).join('');
}

function matchesAt(text: readonly Line[], block: readonly string[], at: number): boolean {
  if (at < 0 || at + block.length > text.length) return false;
  for (let j = 0; j < block.length; j++) if (text[at + j]!.text !== block[j]) return false;
  return true;
}

/**
 * New text per path (undefined for a deleted file). `before` has the parent's
 * text of every changed file that exists there. Throws InvalidArgument (reason
 * `patch_does_not_apply`) when a hunk's old lines are nowhere in the file.
 */
export function applySections(
  sections: readonly PatchSection[],
  before: ReadonlyMap<string, string | undefined>,
): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const s of sections) {
    if (s.deleted) {
      out.set(s.path, undefined);
      continue;
    }
    const text = split(out.get(s.path) ?? before.get(s.path) ?? '');
    let shift = 0;
    for (const h of s.hunks) {
      const old = h.lines.filter((l) => l.tag !== '+').map((l) => l.text);
      const neu = h.lines.filter((l) => l.tag !== '-').map((l) => ({ text: l.text, noEol: l.noEol }));
      const expected = Math.max(0, (old.length ? h.oldStart - 1 : h.oldStart) + shift);
      let at = -1;
      for (let d = 0; d <= text.length && at < 0; d++) {
        if (matchesAt(text, old, expected - d)) at = expected - d;
        else if (matchesAt(text, old, expected + d)) at = expected + d;
      }
      if (at < 0)
        throw new ArswarmError(
          Code.InvalidArgument,
          `patch does not apply: the hunk at line ${h.oldStart} of ${s.path} does not match the parent`,
          { reason: 'patch_does_not_apply', field: s.path },
        );
      // A hunk that ends at the old last line decides whether the file ends with a newline.
      text.splice(at, old.length, ...neu);
      shift = at + neu.length - old.length - (h.oldStart - 1);
    }
    out.set(s.path, join(text));
  }
  return out;
}
