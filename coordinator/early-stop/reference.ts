/**
 * The curves a running candidate trial is compared with: the learning
 * curves of the finished OK baseline runs of its parent at its stage on its
 * GPU class, and the spread of the baselines of earlier heads there (the
 * rule's `prior`). Pure functions of the ledger state.
 *
 * Earlier heads run the same seeds as the parent, so their spread repeats the
 * seeds' share of the noise rather than adding independent draws: the pooled
 * degrees of freedom overstate the evidence somewhat, which is why the rule
 * keeps a small alpha (0.01 over the slot) and a min_df floor.
 */
import type { CurvePoint } from '../../common/curve.js';
import { TrialStatus, type CurvePoint as CurvePointMsg } from '../../gen/arswarm/v1/trial_pb.js';
import type { LedgerState } from '../ledger/state.js';
import { NO_NOISE, pool, type NoiseSums } from '../stats.js';
import { spreadAt } from './rule.js';

/** A stored curve (proto points, int64 steps) as the rule reads it. */
export function curveOf(points: readonly CurvePointMsg[]): CurvePoint[] {
  return points.map((p) => ({ fraction: p.fraction, step: Number(p.step), value: p.value }));
}

/** Curves of the OK baseline runs of `commit` at a stage on a class (runs without progress lines left out). */
export function baselineCurves(
  state: LedgerState,
  commit: string,
  stage: string,
  gpuClass: string,
): CurvePoint[][] {
  const out: CurvePoint[][] = [];
  for (const tv of state.baselineTrialsOf(commit, stage, gpuClass)) {
    const r = tv.result;
    if (r?.status !== TrialStatus.OK || r.curve.length === 0) continue;
    out.push(curveOf(r.curve));
  }
  return out;
}

/** Heads before `parent` (all other heads when `parent` is not one), oldest first, each once. */
export function earlierHeads(state: LedgerState, parent: string): string[] {
  const heads = [...new Set(state.heads)].filter(Boolean);
  const i = heads.indexOf(parent);
  return i < 0 ? heads : heads.slice(0, i);
}

/**
 * The rule's `prior(look)`: baseline spread at a look pooled over earlier
 * heads at the same stage and class (each head's spread around its own mean,
 * so a merge that moved the curve adds no spread).
 */
export function priorOf(
  state: LedgerState,
  parent: string,
  stage: string,
  gpuClass: string,
  window: number,
): (look: number) => NoiseSums {
  const groups = earlierHeads(state, parent)
    .map((h) => baselineCurves(state, h, stage, gpuClass))
    .filter((g) => g.length >= 2);
  if (!groups.length) return () => NO_NOISE;
  const memo = new Map<number, NoiseSums>();
  return (look) => {
    let s = memo.get(look);
    if (!s) {
      s = pool(...groups.map((g) => spreadAt(g, look, window)));
      memo.set(look, s);
    }
    return s;
  };
}
