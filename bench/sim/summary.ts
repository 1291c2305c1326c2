/** The figures of one simulated run: time to target, final metric, false merges, GPU-hours. */
import type { SimOutcome } from './swarm.js';

export interface RunSummary {
  /** First simulated second the head's true top-depth metric reached the target; the budget if never. */
  timeToTargetS: number;
  reached: boolean;
  /** As timeToTargetS for half of the achievable improvement. */
  timeToHalfS: number;
  /** The head's true metric at the top depth at the end. */
  finalTrue: number;
  /** Share of the achievable improvement (start - optimum) the final head holds. */
  improvementFraction: number;
  merges: number;
  /** Merges whose true effect at the top depth is zero or harmful. */
  falseMerges: number;
  gpuHours: number;
  /** Worker-busy hours spent until the target was reached; all of gpuHours if never. */
  gpuHoursToTarget: number;
  trials: number;
}

/** A median over seeds where runs that never reached the target count as the budget. */
export interface CensoredMedian {
  /** Median time, the budget standing in for each censored run. */
  median: number;
  /** Runs that reached the target. */
  reached: number;
  runs: number;
  /** 1 when the median itself is a censored value (fewer than half the runs reached), else 0. */
  censored: 0 | 1;
}

/**
 * The median time to target over runs, censored runs counted as the budget.
 * The median is censored when it is not below the budget, i.e. when at most
 * half of the runs reached the target (with an even count the median averages
 * a reached time with the budget, which is no time at all).
 */
export function censoredMedian(
  runs: readonly { timeToTargetS: number; reached: boolean }[],
  budgetS: number,
): CensoredMedian {
  if (runs.length === 0) return { median: NaN, reached: 0, runs: 0, censored: 1 };
  const xs = runs
    .map((r) => (r.reached ? Math.min(r.timeToTargetS, budgetS) : budgetS))
    .sort((a, b) => a - b);
  const mid = Math.floor(xs.length / 2);
  const median = xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
  const reached = runs.filter((r) => r.reached).length;
  const censored = xs[mid]! >= budgetS;
  return { median, reached, runs: runs.length, censored: censored ? 1 : 0 };
}

/**
 * A speedup a / b of two censored medians, and whether it is only a bound:
 * censored 1 when either median is censored (the ratio then says nothing exact).
 */
export function speedupOf(
  reference: CensoredMedian,
  policy: CensoredMedian,
): { speedup: number; censored: 0 | 1 } {
  return {
    speedup: reference.median / policy.median,
    censored: reference.censored === 1 || policy.censored === 1 ? 1 : 0,
  };
}

/** Changes this small are no change (floating-point noise of the model). */
const ZERO = 1e-12;

/** First time the head's true metric (lower is better) is at or below `level`; undefined if never. */
export function firstReach(out: SimOutcome, level: number): number | undefined {
  if (out.startTrue <= level) return 0;
  for (const m of out.merges) if (m.trueAfter <= level) return m.atS;
  return undefined;
}

export function summarize(
  out: SimOutcome,
  o: { optimum: number; fraction: number; budgetS: number },
): RunSummary {
  const gap = out.startTrue - o.optimum;
  const target = firstReach(out, out.startTrue - o.fraction * gap);
  const half = firstReach(out, out.startTrue - 0.5 * gap);
  const finalTrue = out.merges.at(-1)?.trueAfter ?? out.startTrue;
  const reachedAt =
    target === undefined
      ? undefined
      : out.merges.find((m) => m.atS === target && m.trueAfter <= out.startTrue - o.fraction * gap);
  return {
    timeToTargetS: target ?? o.budgetS,
    reached: target !== undefined,
    timeToHalfS: half ?? o.budgetS,
    finalTrue,
    improvementFraction: gap > 0 ? (out.startTrue - finalTrue) / gap : 1,
    merges: out.merges.length,
    falseMerges: out.merges.filter((m) => m.trueAfter - m.trueBefore >= -ZERO).length,
    gpuHours: out.busyS / 3600,
    gpuHoursToTarget:
      (target === undefined ? out.busyS : target === 0 ? 0 : (reachedAt?.busyS ?? out.busyS)) / 3600,
    trials: Object.values(out.trialsByStage).reduce((a, b) => a + b, 0),
  };
}
