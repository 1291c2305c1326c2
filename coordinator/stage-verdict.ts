/**
 * Verdicts: given a candidate's and the baseline's samples at one stage, decide
 * promote / reject / more replicates. Pure; the scheduler acts on the answer.
 *
 * The test is one-sided Student-t on the mean paired difference: σ comes from
 * a pooled variance (the candidate's own paired differences, the baseline's
 * spread, and the `prior` the caller pools over earlier heads and candidates
 * at the same stage and GPU class), and the critical value is the t quantile
 * with the pooled degrees of freedom at the stage's level α. A normal z with
 * a σ from three runs passes noise far more often than its nominal rate.
 */
import { maxReplicatesOf, type StageConfig } from '../common/config.js';
import { normalCdf, studentTQuantile } from './distributions.js';
import {
  improvement,
  NO_NOISE,
  pairedSums,
  pool,
  sumsOf,
  type Improvement,
  type NoiseSums,
  type Seeded,
} from './stats.js';

export interface StageRule {
  name: string;
  replicates: number;
  maxReplicates: number;
  /** The configured z; its normal tail 1 − Φ(z) is the level when `alpha` is absent. */
  z: number;
  minDelta: number;
  /** One-sided false-pass level of one look (one judgement) at this stage. @default 1 − Φ(z) */
  alpha?: number;
}

/**
 * A configured stage's rule at a level: one construction for the scheduler
 * that judges, the audit that recomputes its verdicts and the calibration
 * bench, so all three judge by the same numbers.
 */
export function stageRuleOf(s: StageConfig, alpha?: number): StageRule {
  return {
    name: s.name,
    replicates: s.replicates,
    maxReplicates: maxReplicatesOf(s),
    z: s.promote.z,
    minDelta: s.promote.min_delta,
    alpha,
  };
}

/** Noise measured outside this judgement: earlier heads and other candidates at the same stage and class. */
export interface NoisePrior {
  /** Residuals of paired differences (other candidates' replicates, successive heads' same-seed runs). */
  paired: NoiseSums;
}

/** No outside evidence: the judgement uses only its own samples. */
export const NO_PRIOR: NoisePrior = { paired: NO_NOISE };

/** An improvement with the test that judged it. */
export interface GatedImprovement extends Improvement {
  /** Degrees of freedom of the pooled variance behind sigma. */
  df: number;
  /** The level of this look. */
  alpha: number;
  /** The t quantile delta / sigma had to clear (Infinity without any noise estimate). */
  critical: number;
  /** max(min_delta, critical * sigma). */
  threshold: number;
}

export type Judgement =
  | { kind: 'wait'; reason: string }
  | { kind: 'more'; reason: string; imp: GatedImprovement }
  | { kind: 'promote' | 'reject'; reason: string; imp: GatedImprovement };

/**
 * The t test of an improvement. Paired runs (every candidate seed has a
 * baseline run) use the pooled variance of one paired difference, with the
 * baseline spread standing in until paired residuals exist (exact when half
 * of the seed noise is shared, conservative above that); unpaired runs use
 * the pooled spread with σ·√(1/n + 1/n_b).
 */
export function gate(
  rule: StageRule,
  candidate: readonly Seeded[],
  baseline: readonly Seeded[],
  lowerIsBetter: boolean,
  prior: NoisePrior = NO_PRIOR,
): GatedImprovement {
  const imp = improvement(candidate, baseline, lowerIsBetter);
  const spread = sumsOf(baseline.map((b) => b.metric));
  let est: NoiseSums;
  let scale: number;
  if (imp.paired === imp.n && imp.n > 0) {
    est = pool(pairedSums(candidate, baseline), prior.paired, spread);
    scale = 1 / imp.n;
  } else {
    est = spread;
    scale = 1 / Math.max(imp.n, 1) + 1 / Math.max(baseline.length, 1);
  }
  const sigma = est.df > 0 ? Math.sqrt((est.ss / est.df) * scale) : 0;
  const alpha = rule.alpha ?? 1 - normalCdf(rule.z);
  const critical = alpha >= 0.5 ? 0 : est.df > 0 ? studentTQuantile(1 - alpha, est.df) : Infinity;
  const bar = critical === 0 ? 0 : critical === Infinity ? Infinity : critical * sigma;
  return { ...imp, sigma, df: est.df, alpha, critical, threshold: Math.max(rule.minDelta, bar) };
}

/**
 * Judges once the candidate has `replicates` OK runs and the baseline
 * `baselineMin`. Promote when delta > max(min_delta, t·sigma); ask for one
 * more replicate while delta is positive but not yet clear and the cap allows;
 * otherwise reject.
 */
export function judge(
  rule: StageRule,
  candidate: readonly Seeded[],
  baseline: readonly Seeded[],
  baselineMin: number,
  lowerIsBetter: boolean,
  prior: NoisePrior = NO_PRIOR,
): Judgement {
  if (baseline.length < baselineMin)
    return { kind: 'wait', reason: `baseline has ${baseline.length}/${baselineMin} runs` };
  if (candidate.length < rule.replicates)
    return { kind: 'wait', reason: `candidate has ${candidate.length}/${rule.replicates} runs` };
  const imp = gate(rule, candidate, baseline, lowerIsBetter, prior);
  const fmt = (x: number) => x.toPrecision(3);
  const test = `t ${fmt(imp.critical)} at α ${fmt(imp.alpha)} with df ${imp.df}, σ ${fmt(imp.sigma)}, n ${imp.n}`;
  if (imp.delta > imp.threshold)
    return {
      kind: 'promote',
      reason: `Δ ${fmt(imp.delta)} > ${fmt(imp.threshold)} (max(min_delta, t·σ), ${test})`,
      imp,
    };
  if (imp.delta > 0 && candidate.length < rule.maxReplicates)
    return {
      kind: 'more',
      reason: `Δ ${fmt(imp.delta)} ≤ ${fmt(imp.threshold)} (${test}): one more replicate`,
      imp,
    };
  return {
    kind: 'reject',
    reason: `Δ ${fmt(imp.delta)} ≤ ${fmt(imp.threshold)} (${test})`,
    imp,
  };
}
