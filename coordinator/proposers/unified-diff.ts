/**
 * Unified diffs made and applied in-process (Myers' O(ND) line diff, 3 lines
 * of context, `git diff` layout), so turning a proposal into a diff, or
 * carrying it onto a newer head, spawns no git and takes no lock on the
 * coordinator's scratch worktree. `git apply` and the patch checks read them
 * like git's own.
 */
import { ArswarmError, Code } from '../../common/errors.js';

/** One file before and after. */
export interface FileEdit {
  path: string;
  before: string;
  after: string;
}

/** Marks a last line without a newline, so `x` and `x\n` never compare equal. */
const NOEOL = '\u0000noeol';

function lines(text: string): string[] {
  if (text === '') return [];
  const out = text.split('\n');
  if (out.at(-1) === '') out.pop();
  else out[out.length - 1] += NOEOL;
  return out;
}

type Op = { kind: ' ' | '-' | '+'; line: string };

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

/** The hunks of one file, `git diff` style. */
function hunks(ops: readonly Op[], context: number): string[] {
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
    out.push(`@@ -${range(oldStart, oldLen)} +${range(newStart, newLen)} @@`, ...body);
  }
  return out;
}

/** A unified diff of the given files ('' when nothing changes). */
export function unifiedDiff(edits: readonly FileEdit[], context = 3): string {
  const out: string[] = [];
  for (const e of [...edits].sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0))) {
    if (e.before === e.after) continue;
    const ops = diffLines(lines(e.before), lines(e.after));
    out.push(
      `diff --git a/${e.path} b/${e.path}`,
      `--- a/${e.path}`,
      `+++ b/${e.path}`,
      ...hunks(ops, context),
    );
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

interface Hunk {
  oldStart: number;
  old: string[];
  new: string[];
}

/** Hunks per file of a unified diff; null for a diff this parser does not carry over (new, deleted or renamed files). */
export function parseHunks(diff: string): Map<string, Hunk[]> | null {
  const files = new Map<string, Hunk[]>();
  const ls = diff.split('\n');
  let cur: Hunk[] | undefined;
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i]!;
    if (/^(new|deleted) file mode|^rename |^copy /.test(l)) return null;
    if (l.startsWith('--- ') && ls[i + 1]?.startsWith('+++ ')) {
      const path = ls[i + 1]!.slice(4).replace(/\t.*$/, '');
      if (l.slice(4).startsWith('/dev/null') || path === '/dev/null') return null;
      cur = [];
      files.set(path.replace(/^b\//, ''), cur);
      i++;
      continue;
    }
    const m = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(l);
    if (!m || !cur) continue;
    const h: Hunk = { oldStart: Number(m[1]), old: [], new: [] };
    cur.push(h);
    let oldLeft = m[2] === undefined ? 1 : Number(m[2]);
    let newLeft = m[3] === undefined ? 1 : Number(m[3]);
    while (oldLeft > 0 || newLeft > 0) {
      const b = ls[++i];
      if (b === undefined) return null;
      const tag = b[0];
      const text = b.slice(1);
      const noEol = ls[i + 1]?.startsWith('\\') ? NOEOL : '';
      if (noEol) i++;
      if (tag === '+') {
        h.new.push(text + noEol);
        newLeft--;
      } else if (tag === '-') {
        h.old.push(text + noEol);
        oldLeft--;
      } else {
        h.old.push(text + noEol);
        h.new.push(text + noEol);
        oldLeft--;
        newLeft--;
      }
    }
  }
  return files;
}

function matchesAt(text: readonly string[], block: readonly string[], at: number): boolean {
  if (at < 0 || at + block.length > text.length) return false;
  for (let j = 0; j < block.length; j++) if (text[at + j] !== block[j]) return false;
  return true;
}

/** Context lines before the first and after the last change of a hunk. */
function contextOf(h: Hunk): { before: number; after: number } {
  let before = 0;
  while (before < h.old.length && before < h.new.length && h.old[before] === h.new[before]) before++;
  let after = 0;
  while (
    after < h.old.length - before &&
    after < h.new.length - before &&
    h.old[h.old.length - 1 - after] === h.new[h.new.length - 1 - after]
  )
    after++;
  return { before, after };
}

/**
 * Where a hunk applies, nearest to `expected`: with all its context first,
 * then (as `git apply -C` and a 3-way merge allow) with less context, down to
 * none when it removes lines — the removed lines themselves must always match.
 */
function locate(
  text: readonly string[],
  h: Hunk,
  expected: number,
): { at: number; lead: number; trail: number } | undefined {
  const ctx = contextOf(h);
  const removes = h.old.length - ctx.before - ctx.after > 0;
  const maxFuzz = Math.max(ctx.before, ctx.after);
  for (let fuzz = 0; fuzz <= maxFuzz; fuzz++) {
    const lead = Math.min(fuzz, ctx.before);
    const trail = Math.min(fuzz, ctx.after);
    const block = h.old.slice(lead, h.old.length - trail);
    // A pure insertion keeps at least one line of context to anchor it.
    if (!removes && block.length === 0) break;
    const from = expected + lead;
    for (let d = 0; d <= text.length; d++) {
      if (matchesAt(text, block, from - d)) return { at: from - d, lead, trail };
      if (matchesAt(text, block, from + d)) return { at: from + d, lead, trail };
    }
  }
  return undefined;
}

/**
 * Applies a diff's hunks to (possibly newer) file texts, each hunk where its
 * removed lines (and as much context as still matches) are found, nearest to
 * where the diff expects it. Throws ArswarmError(Aborted, reason `conflict`) when a hunk matches
 * nowhere. Returns the new texts of the changed files.
 */
export function applyUnifiedDiff(diff: string, texts: ReadonlyMap<string, string>): Map<string, string> {
  const parsed = parseHunks(diff);
  if (!parsed)
    throw new ArswarmError(Code.Unimplemented, 'diff adds, deletes or renames files', {
      reason: 'unsupported',
    });
  const out = new Map<string, string>();
  for (const [path, hs] of parsed) {
    const before = texts.get(path);
    if (before === undefined)
      throw new ArswarmError(Code.Aborted, `${path} is gone`, { reason: 'conflict', field: path });
    const text = lines(before);
    let shift = 0;
    for (const h of hs) {
      const expected = Math.max(0, (h.old.length ? h.oldStart - 1 : h.oldStart) + shift);
      const found = locate(text, h, expected);
      if (!found)
        throw new ArswarmError(
          Code.Aborted,
          `a change to ${path} near line ${h.oldStart} no longer applies`,
          {
            reason: 'conflict',
            field: path,
          },
        );
      const { at, lead, trail } = found;
      const oldBlock = h.old.slice(lead, h.old.length - trail);
      const newBlock = h.new.slice(lead, h.new.length - trail);
      text.splice(at, oldBlock.length, ...newBlock);
      // Later hunks move by where this one landed and by what it added or removed.
      shift = at - lead - (expected - shift) + newBlock.length - oldBlock.length;
    }
    const last = text.at(-1);
    const body = text.map((l) => (l.endsWith(NOEOL) ? l.slice(0, -NOEOL.length) : l)).join('\n');
    out.set(path, text.length === 0 ? '' : last?.endsWith(NOEOL) ? body : `${body}\n`);
  }
  return out;
}
