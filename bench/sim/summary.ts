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
  /** Candidate trials stopped mid-slot. */
  stoppedTrials: number;
  /** Slot hours those stops left unrun. */
  stopSavedHours: number;
  /** The simulation seed (set by the caller; pairs runs of two policies). */
  seed?: number;
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
    stoppedTrials: out.stoppedTrials,
    stopSavedHours: out.stopSavedS / 3600,
  };
}

const medianOf = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * What mid-slot stopping saves, from the same policy run with stops
 * (`stop`) and without (`nostop`) on the same seeds (runs paired by seed):
 *
 * - `early_stop_gpu_hours_saved_fraction`: median over seeds of
 *   1 − GPU-hours with stops / GPU-hours without. Meaningful when both runs
 *   end by running out of ideas (the proposer exhausted): otherwise both
 *   fill the budget and the fraction is about 0 whatever the stops saved.
 * - `early_stop_slot_hours_saved_fraction`: in the runs with stops, slot
 *   hours the stops left unrun / (GPU-hours + those hours): what the same
 *   trials would have cost more unstopped.
 * - `<stop>_final_stop` and `<stop>_final_nostop` (medians) and
 *   `early_stop_final_delta` (median over seeds of with − without; ≤ 0 is
 *   no worse, lower is better): "at equal final metric" is checkable.
 */
export function stoppingFigures(
  runs: ReadonlyMap<string, readonly RunSummary[]>,
  stop = 'arswarm_knobs',
  nostop = 'arswarm_knobs_nostop',
): Record<string, number> {
  const a = runs.get(stop) ?? [];
  const b = new Map((runs.get(nostop) ?? []).map((r) => [r.seed, r]));
  const pairs = a.flatMap((r) => (b.has(r.seed) ? [[r, b.get(r.seed)!] as const] : []));
  if (pairs.length === 0) return {};
  return {
    early_stop_gpu_hours_saved_fraction: medianOf(pairs.map(([s, n]) => 1 - s.gpuHours / n.gpuHours)),
    early_stop_slot_hours_saved_fraction: medianOf(
      pairs.map(([s]) => s.stopSavedHours / (s.gpuHours + s.stopSavedHours)),
    ),
    early_stop_stopped_trials: medianOf(pairs.map(([s]) => s.stoppedTrials)),
    [`${stop}_final_stop`]: medianOf(pairs.map(([s]) => s.finalTrue)),
    [`${stop}_final_nostop`]: medianOf(pairs.map(([, n]) => n.finalTrue)),
    early_stop_final_delta: medianOf(pairs.map(([s, n]) => s.finalTrue - n.finalTrue)),
    early_stop_pairs: pairs.length,
  };
}
