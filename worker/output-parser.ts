/**
 * Reads autoresearch-style output: progress lines rewritten with `\r`, an
 * optional `FAIL` line, and a final block — a `---` line, then `key: value`
 * lines with values aligned by spaces.
 */

/** What the output says about the run. */
export interface ParsedOutput {
  /** A `---` line followed by at least one `key: value` line was found. */
  readonly hasBlock: boolean;
  /** Every block value that parsed as a finite number. */
  readonly metrics: Record<string, number>;
  /** Block keys whose value is NaN or infinite (e.g. `val_bpb: nan`). */
  readonly nonFinite: string[];
  /** A line reading exactly `FAIL` (autoresearch's NaN / divergence exit). */
  readonly failLine: boolean;
  /** CUDA (or host) out-of-memory text appeared. */
  readonly oomText: boolean;
}

const KEY_VALUE = /^([A-Za-z_][A-Za-z0-9_.-]*):\s*(\S.*?)\s*$/;
const NON_FINITE = /^[-+]?(nan|inf|infinity)$/i;
const OOM = /CUDA out of memory|OutOfMemoryError|CUDA error: out of memory|\bout of memory\b/i;
const PROGRESS = /\((\d{1,3}(?:\.\d+)?)%\)/g;

/**
 * `FAIL` alone on a line, or glued to the end of a progress line: autoresearch
 * prints progress with `end=""`, so its FAIL follows the last progress text.
 */
export function isFailLine(line: string): boolean {
  const t = line.trim();
  return t === 'FAIL' || (/^step \d+/.test(t) && /\sFAIL$/.test(t));
}

/** Splits output into lines, treating `\r`, `\r\n` and `\n` alike. */
export function outputLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/** Parses a number the way Python prints one; NaN for `nan`/`inf` spellings is reported separately. */
function parseValue(v: string): number | 'non-finite' | undefined {
  if (NON_FINITE.test(v)) return 'non-finite';
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(v)) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : 'non-finite';
}

/** Parses the whole output of a run (the last `---` block wins). */
export function parseOutput(text: string): ParsedOutput {
  const lines = outputLines(text);
  let blockStart = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]!.trim() === '---') {
      blockStart = i;
      break;
    }
  }
  const metrics: Record<string, number> = {};
  const nonFinite: string[] = [];
  let pairs = 0;
  if (blockStart >= 0) {
    for (const line of lines.slice(blockStart + 1)) {
      const m = KEY_VALUE.exec(line.trim());
      if (!m) continue;
      pairs++;
      const v = parseValue(m[2]!);
      if (v === 'non-finite') nonFinite.push(m[1]!);
      else if (v !== undefined) metrics[m[1]!] = v;
    }
  }
  return {
    hasBlock: pairs > 0,
    metrics,
    nonFinite,
    failLine: lines.some(isFailLine),
    oomText: OOM.test(text),
  };
}

/** The last progress fraction (0..1) in a chunk of output, e.g. `step 00953 (100.0%) | ...`. */
export function lastProgress(chunk: string): number | undefined {
  let last: string | undefined;
  for (const m of chunk.matchAll(PROGRESS)) last = m[1];
  if (last === undefined) return undefined;
  const p = Number(last) / 100;
  return p >= 0 && p <= 1 ? p : undefined;
}

/**
 * Follows progress across chunks that may split a `(12.5%)` in two: keeps a
 * short carry of the previous chunk.
 */
export class ProgressTracker {
  private carry = '';
  /** Latest progress 0..1, 0 before any progress line. */
  progress = 0;

  push(chunk: string): void {
    const text = this.carry + chunk;
    const p = lastProgress(text);
    if (p !== undefined) this.progress = p;
    this.carry = text.slice(-16);
  }
}
