/**
 * Reads a trial's learning curve out of its output as it arrives: chunks of
 * stdout and stderr, split anywhere, with progress lines rewritten by `\r`.
 * Only complete lines are matched (a line ends at `\n` or `\r`), so a number
 * cut by a chunk boundary is never read half; the incomplete tail of each
 * stream waits for the next chunk or for end().
 */
import { binCurve, compileProgressPattern, pointsIn, type CurvePoint } from '../common/curve.js';
import { ArswarmError } from '../common/errors.js';

/** Characters of an unterminated line kept per stream; a longer one keeps its end. */
export const MAX_LINE_CHARS = 64 * 1024;
/** Points kept for the stored curve; past it every other point is dropped (the bins' means stay close). */
export const MAX_KEPT_POINTS = 100_000;

export type OutputStream = 'stdout' | 'stderr';

export interface CurveReaderOptions {
  /** TargetSpec.progress.pattern; empty: no curve. */
  readonly pattern: string;
  /** The share of the slot done now (0..1), for lines without a pct or fraction group. */
  readonly elapsedFraction: () => number;
  /** Called once when the pattern does not compile; the run goes on without a curve. */
  readonly onInvalidPattern?: (message: string) => void;
}

/** A clamp of elapsed/budget to [0, 1]; a zero or negative budget counts as done. */
export function clockFraction(elapsedMs: number, budgetMs: number): number {
  if (!(budgetMs > 0)) return 1;
  return Math.min(1, Math.max(0, elapsedMs / budgetMs));
}

export class CurveReader {
  private readonly re: RegExp | undefined;
  private readonly tails: Record<OutputStream, string> = { stdout: '', stderr: '' };
  private readonly kept: CurvePoint[] = [];
  /** Keep one point in `stride` once MAX_KEPT_POINTS was reached. */
  private stride = 1;
  private seen = 0;

  constructor(private readonly o: CurveReaderOptions) {
    if (o.pattern === '') return;
    try {
      this.re = compileProgressPattern(o.pattern);
    } catch (err) {
      o.onInvalidPattern?.(ArswarmError.from(err).message);
    }
  }

  /** Whether this reader collects points at all (a pattern that compiled). */
  get active(): boolean {
    return this.re !== undefined;
  }

  /** Feeds a chunk of one stream; returns the points its complete lines held. */
  push(chunk: string, stream: OutputStream = 'stdout'): CurvePoint[] {
    if (!this.re) return [];
    const text = this.tails[stream] + chunk;
    let end = -1;
    for (let i = text.length - 1; i >= 0; i--) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) {
        end = i;
        break;
      }
    }
    const tail = text.slice(end + 1);
    this.tails[stream] = tail.length > MAX_LINE_CHARS ? tail.slice(-MAX_LINE_CHARS) : tail;
    return end < 0 ? [] : this.read(text.slice(0, end + 1));
  }

  /** The run ended: its last unterminated lines count too. Returns their points. */
  end(): CurvePoint[] {
    const out: CurvePoint[] = [];
    for (const s of ['stdout', 'stderr'] as const) {
      const t = this.tails[s];
      this.tails[s] = '';
      if (t !== '') out.push(...this.read(t));
    }
    return out;
  }

  /** Every point kept so far. */
  get points(): readonly CurvePoint[] {
    return this.kept;
  }

  /** The stored curve: the points binned (common/curve.ts binCurve). */
  curve(): CurvePoint[] {
    return binCurve(this.kept);
  }

  private read(lines: string): CurvePoint[] {
    const found: CurvePoint[] = [];
    // Line by line: `\r`-rewritten progress is one line per rewrite, and a
    // pattern's `.*` can not run from one line into the next.
    for (const line of lines.split(/\r\n|\r|\n/)) {
      if (line !== '') found.push(...pointsIn(this.re!, line, this.o.elapsedFraction));
    }
    for (const p of found) this.keep(p);
    return found;
  }

  private keep(p: CurvePoint): void {
    if (this.seen++ % this.stride !== 0) return;
    this.kept.push(p);
    if (this.kept.length >= MAX_KEPT_POINTS) {
      let j = 0;
      for (let i = 0; i < this.kept.length; i += 2) this.kept[j++] = this.kept[i]!;
      this.kept.length = j;
      this.stride *= 2;
    }
  }
}

/** Points as the wire's CurvePoint init (int64 step; a step that is not a safe integer becomes -1). */
export function wirePoints(
  points: readonly CurvePoint[],
): { fraction: number; step: bigint; value: number }[] {
  return points.map((p) => ({
    fraction: p.fraction,
    step: BigInt(Number.isSafeInteger(p.step) ? p.step : -1),
    value: p.value,
  }));
}
