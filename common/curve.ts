/**
 * Learning curves: the intermediate metric a trial prints while it trains
 * (autoresearch's `step 00953 (100.0%) | loss: 3.2 | ...` line), read by the
 * worker, stored binned with the trial's result, and compared by the
 * coordinator's mid-slot stopping rule (coordinator/early-stop/).
 *
 * A point's `fraction` is the share of the training slot done when it was
 * printed (0..1): trials of one stage share a fixed slot, so two curves are
 * compared at the same fraction of the budget, which is the same time spent,
 * whatever step counts their configurations reach in it.
 */
import { ArswarmError, Code } from './errors.js';

export interface CurvePoint {
  /** Share of the slot done, 0..1. */
  fraction: number;
  /** Training step, when the line names one (else -1). */
  step: number;
  /** The intermediate metric (e.g. training loss). */
  value: number;
}

/**
 * autoresearch's progress line: `step 00953 (100.0%) | loss: 3.212345 | ...`.
 * Named groups: `value` (required), `pct` (percent of the slot) or
 * `fraction` (0..1), and `step` (optional).
 */
export const DEFAULT_PROGRESS_PATTERN = String.raw`step\s+(?<step>\d+)\s+\((?<pct>[0-9.]+)%\)\s*\|\s*loss:\s*(?<value>[-+0-9.eE]+|nan|inf)`;

/** Points kept per stored curve. @default 20 */
export const CURVE_BINS = 20;

/** Compiles a progress pattern, refusing one without the groups a point needs. */
export function compileProgressPattern(source: string, field = 'target.progress.pattern'): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(source, 'g');
  } catch (err) {
    throw new ArswarmError(
      Code.InvalidArgument,
      `${field}: not a regular expression: ${(err as Error).message}`,
      {
        field,
        reason: 'bad_pattern',
      },
    );
  }
  const groups = new Set([...source.matchAll(/\(\?<([A-Za-z_][A-Za-z0-9_]*)>/g)].map((m) => m[1]));
  if (!groups.has('value'))
    throw new ArswarmError(
      Code.InvalidArgument,
      `${field}: needs a named group (?<value>...) for the metric`,
      {
        field,
        reason: 'bad_pattern',
        hint: String.raw`e.g. loss:\s*(?<value>[0-9.]+)`,
      },
    );
  return re;
}

/**
 * The points in a piece of output. `fraction` comes from the line's `pct` or
 * `fraction` group, else from `elapsedFraction` (the worker's clock over the
 * slot). Values that do not parse as finite numbers (nan, inf) are skipped:
 * a diverging run fails on its own.
 */
export function pointsIn(re: RegExp, text: string, elapsedFraction: () => number): CurvePoint[] {
  const out: CurvePoint[] = [];
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    const g = m.groups ?? {};
    const value = Number(g.value);
    if (!Number.isFinite(value)) continue;
    const fraction =
      g.pct !== undefined
        ? Number(g.pct) / 100
        : g.fraction !== undefined
          ? Number(g.fraction)
          : elapsedFraction();
    if (!Number.isFinite(fraction) || fraction < 0 || fraction > 1.0001) continue;
    const step = g.step !== undefined ? Number(g.step) : -1;
    out.push({ fraction: Math.min(1, fraction), step: Number.isFinite(step) ? step : -1, value });
  }
  return out;
}

/**
 * A curve reduced to at most `bins` points: the mean of each bin of width
 * 1/bins, placed at the bin's last point. Enough for the stopping rule's
 * looks and small enough for the ledger.
 */
export function binCurve(points: readonly CurvePoint[], bins = CURVE_BINS): CurvePoint[] {
  const byBin = new Map<number, CurvePoint[]>();
  for (const p of points) {
    const b = Math.min(bins - 1, Math.floor(p.fraction * bins));
    const bin = byBin.get(b);
    // Appending in place: a long run prints thousands of points.
    if (bin) bin.push(p);
    else byBin.set(b, [p]);
  }
  return [...byBin.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, ps]) => ({
      fraction: ps.at(-1)!.fraction,
      step: ps.at(-1)!.step,
      value: ps.reduce((a, p) => a + p.value, 0) / ps.length,
    }));
}

/** The mean value of a curve's points with fraction in (at − window, at], or undefined when none. */
export function valueAt(points: readonly CurvePoint[], at: number, window: number): number | undefined {
  let sum = 0;
  let n = 0;
  for (const p of points)
    if (p.fraction > at - window && p.fraction <= at + 1e-9) {
      sum += p.value;
      n++;
    }
  return n > 0 ? sum / n : undefined;
}

/** The largest fraction a curve has reached (0 when empty). */
export function reached(points: readonly CurvePoint[]): number {
  let f = 0;
  for (const p of points) if (p.fraction > f) f = p.fraction;
  return f;
}
