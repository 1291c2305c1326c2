/**
 * Applies a git unified diff to file texts in memory: the simulation needs
 * the train.py a trial would run (its parent's file plus the candidate's
 * diff) without a git process per trial. Hunks must match exactly at their
 * stated position, as the diffs come from `git diff` against that parent.
 */

interface Hunk {
  oldStart: number;
  lines: string[];
}

/** Hunks of each file a diff changes, by path (the `b/` side). */
function parse(diff: string): Map<string, Hunk[]> {
  const files = new Map<string, Hunk[]>();
  let hunks: Hunk[] | undefined;
  let hunk: Hunk | undefined;
  for (const line of diff.split('\n')) {
    if (line.startsWith('diff --git ')) {
      hunks = undefined;
      hunk = undefined;
    } else if (line.startsWith('+++ ')) {
      const path = line.slice(4).replace(/^b\//, '');
      hunks = [];
      files.set(path, hunks);
    } else if (line.startsWith('@@ ')) {
      const m = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(line);
      if (!m || !hunks) throw new Error(`malformed hunk header: ${line}`);
      hunk = { oldStart: Number(m[1]), lines: [] };
      hunks.push(hunk);
    } else if (hunk && (line.startsWith(' ') || line.startsWith('+') || line.startsWith('-'))) {
      hunk.lines.push(line);
    }
  }
  return files;
}

/**
 * The texts of `files` after `diff`. Files the diff does not name are
 * returned unchanged; a hunk that does not match throws.
 */
export function applyDiff(files: ReadonlyMap<string, string>, diff: string): Map<string, string> {
  const out = new Map(files);
  for (const [path, hunks] of parse(diff)) {
    const text = files.get(path);
    if (text === undefined) throw new Error(`diff changes ${path}, which is not known`);
    const lines = text.split('\n');
    let offset = 0;
    for (const h of hunks) {
      const oldSide = h.lines.filter((l) => !l.startsWith('+')).map((l) => l.slice(1));
      const newSide = h.lines.filter((l) => !l.startsWith('-')).map((l) => l.slice(1));
      const at = (oldSide.length === 0 ? h.oldStart : h.oldStart - 1) + offset;
      if (!oldSide.every((l, k) => lines[at + k] === l))
        throw new Error(`hunk at line ${h.oldStart} of ${path} does not match`);
      lines.splice(at, oldSide.length, ...newSide);
      offset += newSide.length - oldSide.length;
    }
    out.set(path, lines.join('\n'));
  }
  return out;
}
