/**
 * Unified diffs made in-process (Myers' O(ND) line diff, 3 lines of context,
 * `git diff` layout), so turning a proposal into a diff spawns no git and
 * takes no lock on the coordinator's scratch worktree. `git apply` and
 * parse.ts read them like git's own.
 */
import { toLines } from './lines.js';

/** One file before and after. */
export interface FileEdit {
  path: string;
  before: string;
  after: string;
}

/** Marks a last line without a newline, so `x` and `x\n` never compare equal. */
const NOEOL = '\u0000noeol';

/** A text's lines as strings that compare like lines.ts' lines. */
const keys = (text: string): string[] => toLines(text).map((l) => (l.noEol ? l.text + NOEOL : l.text));

export type Op = { kind: ' ' | '-' | '+'; line: string };

/** The shortest edit script from `a` to `b` (Myers 1986, linear-space not needed at these sizes). */
export function diffLines(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max;
  const v = new Int32Array(2 * max + 2);
  const trace: Int32Array[] = [];
  let done = false;
  for (let d = 0; d <= max && !done; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)
          ? v[offset + k + 1]!
          : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        done = true;
        break;
      }
    }
  }
  // Walk the trace back from (n, m).
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1]! < vd[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = d === 0 ? 0 : vd[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push({ kind: ' ', line: a[x - 1]! });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) ops.push({ kind: '+', line: b[y - 1]! });
      else ops.push({ kind: '-', line: a[x - 1]! });
      x = prevX;
      y = prevY;
    }
  }
  return ops.reverse();
}

const range = (start: number, len: number) => (len === 1 ? `${start}` : `${start},${len}`);

export interface HunkOptions {
  /** Lines of context around a change (git's default 3). */
  readonly context?: number;
  /**
   * The text after a hunk header's `@@ ... @@` (git's function-name line),
   * given the old file's lines and the 0-based line the hunk starts at.
   */
  readonly funcname?: (old: readonly string[], start: number) => string;
}

/** The hunks (headers and bodies, one string a line) turning `before` into `after`. */
export function fileHunks(before: string, after: string, opts: HunkOptions = {}): string[] {
  const context = opts.context ?? 3;
  const ops = diffLines(keys(before), keys(after));
  const oldTexts = opts.funcname ? toLines(before).map((l) => l.text) : [];
  const out: string[] = [];
  const changed = ops.map((o, i) => (o.kind === ' ' ? -1 : i)).filter((i) => i >= 0);
  let i = 0;
  while (i < changed.length) {
    // Extend the hunk while the next change is within 2 x context lines.
    const first = changed[i]!;
    let last = first;
    while (i + 1 < changed.length && changed[i + 1]! - last <= 2 * context + 1) last = changed[++i]!;
    i++;
    const from = Math.max(0, first - context);
    const to = Math.min(ops.length, last + context + 1);
    let oldLine = 0;
    let newLine = 0;
    for (let j = 0; j < from; j++) {
      if (ops[j]!.kind !== '+') oldLine++;
      if (ops[j]!.kind !== '-') newLine++;
    }
    const body: string[] = [];
    let oldLen = 0;
    let newLen = 0;
    for (let j = from; j < to; j++) {
      const o = ops[j]!;
      const noEol = o.line.endsWith(NOEOL);
      body.push(`${o.kind}${noEol ? o.line.slice(0, -NOEOL.length) : o.line}`);
      if (noEol) body.push('\\ No newline at end of file');
      if (o.kind !== '+') oldLen++;
      if (o.kind !== '-') newLen++;
    }
    const oldStart = oldLen === 0 ? oldLine : oldLine + 1;
    const newStart = newLen === 0 ? newLine : newLine + 1;
    const func = opts.funcname?.(oldTexts, oldLine);
    out.push(
      `@@ -${range(oldStart, oldLen)} +${range(newStart, newLen)} @@${func ? ` ${func}` : ''}`,
      ...body,
    );
  }
  return out;
}

/** A unified diff of the given files ('' when nothing changes). */
export function unifiedDiff(edits: readonly FileEdit[], context = 3): string {
  const out: string[] = [];
  for (const e of [...edits].sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0))) {
    if (e.before === e.after) continue;
    out.push(
      `diff --git a/${e.path} b/${e.path}`,
      `--- a/${e.path}`,
      `+++ b/${e.path}`,
      ...fileHunks(e.before, e.after, { context }),
    );
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
