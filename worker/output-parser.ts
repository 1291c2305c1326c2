/**
 * Reads autoresearch-style output: progress lines rewritten with `\r`, an
 * optional `FAIL` line, and a final block — a `---` line, then `key: value`
 * lines with values aligned by spaces.
 *
 * A run reports exactly once: a second block (a `---` line followed by
 * `key: value` lines, anywhere after the first, stderr included) or a key
 * repeated inside the block is an integrity failure, since a program that
 * prints its result twice may be printing a forged one.
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
  /** Why the output cannot be trusted (a second block, a repeated key); absent when it can. */
  readonly integrity?: OutputIntegrity;
}

/** An output-integrity failure: the rule id (docs/reliability.md) and a reason naming the lines. */
export interface OutputIntegrity {
  readonly rule: 'duplicate-result-block' | 'repeated-key';
  readonly reason: string;
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

/** The `key: value` pairs of the lines after a `---` line, up to the next `---` line. */
function blockPairs(lines: readonly string[], from: number): { key: string; value: string; line: number }[] {
  const out = [];
  for (let i = from + 1; i < lines.length && lines[i]!.trim() !== '---'; i++) {
    const m = KEY_VALUE.exec(lines[i]!.trim());
    if (m) out.push({ key: m[1]!, value: m[2]!, line: i + 1 });
  }
  return out;
}

/** Parses the whole output of a run: exactly one `---` block (see {@link ParsedOutput.integrity}). */
export function parseOutput(text: string): ParsedOutput {
  const lines = outputLines(text);
  // A `---` line starts a block only when key: value lines follow it (a bare separator is not one).
  const blocks: { start: number; pairs: ReturnType<typeof blockPairs> }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '---') continue;
    const pairs = blockPairs(lines, i);
    if (pairs.length > 0) blocks.push({ start: i, pairs });
  }
  const metrics: Record<string, number> = {};
  const nonFinite: string[] = [];
  let integrity: OutputIntegrity | undefined;
  const block = blocks[0];
  if (blocks.length > 1)
    integrity = {
      rule: 'duplicate-result-block',
      reason: `rule duplicate-result-block: a second result block at output line ${blocks[1]!.start + 1} (the first at line ${block!.start + 1}); a run reports once`,
    };
  const seen = new Map<string, number>();
  for (const { key, value, line } of block?.pairs ?? []) {
    const first = seen.get(key);
    if (first !== undefined && !integrity)
      integrity = {
        rule: 'repeated-key',
        reason: `rule repeated-key: ${key} at output lines ${first} and ${line} of the result block`,
      };
    if (first === undefined) seen.set(key, line);
    // The first value of a key is the one kept (the status is integrity anyway when it repeats).
    if (first !== undefined) continue;
    const v = parseValue(value);
    if (v === 'non-finite') nonFinite.push(key);
    else if (v !== undefined) metrics[key] = v;
  }
  return {
    hasBlock: block !== undefined,
    metrics,
    nonFinite,
    failLine: lines.some(isFailLine),
    oomText: OOM.test(text),
    ...(integrity ? { integrity } : {}),
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
