/**
 * Mid-slot stopping: is a running candidate trial's learning curve clearly
 * worse than its baseline's at the same fraction of the slot? Pure; the
 * caller feeds curves (common/curve.ts) and acts on the answer.
 *
 * The rule is a median-stopping rule with a stated confidence. At fixed looks
 * (fractions `after`, `after + every`, ... below 1) the candidate's value,
 * the mean of its points in the window ending at the look, is compared with
 * the baseline runs of the same parent, stage and GPU class at the same look.
 * It stops when the candidate is worse than the baselines' mean by more than
 * max(min_delta, t · σ · √(1 + 1/n_b)), with σ the spread of baseline values
 * at that look pooled over this parent's baselines and the `prior` the caller
 * pools over earlier heads, and t the Student-t quantile at level α / looks
 * (Bonferroni over the looks). So a change whose curve is no worse than the
 * baseline's is stopped with probability at most α over the whole slot,
 * whatever look stops it.
 */
import { create } from '@bufbuild/protobuf';
import type { StageConfig } from '../../common/config.js';
import { reached, valueAt, type CurvePoint } from '../../common/curve.js';
import { StopEvidenceSchema, type StopEvidence } from '../../gen/arswarm/v1/event_pb.js';
import { studentTQuantile } from '../distributions.js';
import { mean } from '../stats.js';
import { NO_NOISE, pool, sumsOf, type NoiseSums } from '../stats.js';

export interface EarlyStopRule {
  /** No stop before this share of the slot is done. */
  after: number;
  /** Looks are this far apart. */
  every: number;
  /** A look averages the points in the window of this width ending at it. */
  window: number;
  /** Probability that a change no worse than the baseline is stopped, over the whole slot. */
  alpha: number;
  /** The candidate must be worse by at least this much (in the curve's units). */
  minDelta: number;
  /** No stop until σ rests on this many degrees of freedom. */
  minDf: number;
}

/** The stage's stopping rule, or undefined when the stage does not stop trials mid-slot. */
export function earlyStopRuleOf(s: Pick<StageConfig, 'early_stop'>): EarlyStopRule | undefined {
  const e = s.early_stop;
  if (!e) return undefined;
  return {
    after: e.after,
    every: e.every,
    window: e.window,
    alpha: e.alpha,
    minDelta: e.min_delta,
    minDf: e.min_df,
  };
}

/** The fractions at which a curve is judged, in order. */
export function looksOf(rule: EarlyStopRule): number[] {
  const out: number[] = [];
  for (let k = 0; ; k++) {
    const f = Math.round((rule.after + k * rule.every) * 1e9) / 1e9;
    if (f >= 1 - 1e-9) break;
    out.push(f);
  }
  return out;
}

/** The spread of the baselines' values at a look, as pooled variance parts. */
export function spreadAt(
  baselines: readonly (readonly CurvePoint[])[],
  look: number,
  window: number,
): NoiseSums {
  const xs = baselines.map((b) => valueAt(b, look, window)).filter((x): x is number => x !== undefined);
  return sumsOf(xs);
}

export type StopJudgement =
  { stop: false; reason: string } | { stop: true; reason: string; evidence: StopEvidence };

/**
 * Judges a candidate curve at every look it has passed (a look is judged
 * only once its window is complete, so the answer for a look never changes
 * as more points arrive). `prior(look)` adds spread measured outside this
 * parent's baselines (earlier heads at the same stage and class).
 */
export function judgeCurve(
  rule: EarlyStopRule,
  candidate: readonly CurvePoint[],
  baselines: readonly (readonly CurvePoint[])[],
  lowerIsBetter: boolean,
  prior: (look: number) => NoiseSums = () => NO_NOISE,
): StopJudgement {
  const looks = looksOf(rule);
  const at = reached(candidate);
  const level = rule.alpha / Math.max(1, looks.length);
  const fmt = (x: number) => x.toPrecision(4);
  let last = 'no look reached yet';
  for (const look of looks) {
    // The window is complete once the curve has a point past the look.
    if (at <= look) break;
    const c = valueAt(candidate, look, rule.window);
    const bs = baselines
      .map((b) => valueAt(b, look, rule.window))
      .filter((x): x is number => x !== undefined);
    if (c === undefined || bs.length === 0) {
      last = `no ${c === undefined ? 'candidate' : 'baseline'} point near ${fmt(look)}`;
      continue;
    }
    const est = pool(sumsOf(bs), prior(look));
    if (est.df < rule.minDf) {
      last = `baseline spread at ${fmt(look)} has df ${est.df} < ${rule.minDf}`;
      continue;
    }
    const sigma = Math.sqrt(est.ss / est.df);
    const critical = studentTQuantile(1 - level, est.df);
    const threshold = Math.max(rule.minDelta, critical * sigma * Math.sqrt(1 + 1 / bs.length));
    const baselineMean = mean(bs);
    const worseBy = lowerIsBetter ? c - baselineMean : baselineMean - c;
    if (worseBy > threshold) {
      // The ledger's own message (TrialStopped.evidence), so an audit redoes the test from it.
      const evidence = create(StopEvidenceSchema, {
        look,
        candidateValue: c,
        baselineMean,
        n: bs.length,
        sigma,
        df: est.df,
        critical,
        threshold,
        worseBy,
        alpha: rule.alpha,
        looks: looks.length,
      });
      return {
        stop: true,
        evidence,
        reason:
          `stopped at ${Math.round(look * 100)}% of the slot: ${fmt(c)} vs baseline ${fmt(baselineMean)} ` +
          `(n ${bs.length}), worse by ${fmt(worseBy)} > ${fmt(threshold)} ` +
          `(max(min_delta, t·σ·√(1+1/n)), t ${fmt(critical)} at α ${fmt(rule.alpha)}/${looks.length} looks, df ${est.df}, σ ${fmt(sigma)})`,
      };
    }
    last = `at ${Math.round(look * 100)}%: worse by ${fmt(worseBy)} ≤ ${fmt(threshold)}`;
  }
  return { stop: false, reason: last };
}
