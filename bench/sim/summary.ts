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
  trials: number;
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
  return {
    timeToTargetS: target ?? o.budgetS,
    reached: target !== undefined,
    timeToHalfS: half ?? o.budgetS,
    finalTrue,
    improvementFraction: gap > 0 ? (out.startTrue - finalTrue) / gap : 1,
    merges: out.merges.length,
    falseMerges: out.merges.filter((m) => m.trueAfter - m.trueBefore >= -ZERO).length,
    gpuHours: out.busyS / 3600,
    trials: Object.values(out.trialsByStage).reduce((a, b) => a + b, 0),
  };
}
