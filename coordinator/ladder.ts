/**
 * Verdicts: given a candidate's and the baseline's samples at one stage, decide
 * promote / reject / more replicates. Pure; the scheduler acts on the answer.
 */
import { improvement, type Improvement, type Seeded } from './stats.js';

export interface StageRule {
  name: string;
  replicates: number;
  maxReplicates: number;
  z: number;
  minDelta: number;
}

export type Judgement =
  | { kind: 'wait'; reason: string }
  | { kind: 'more'; reason: string; imp: Improvement }
  | { kind: 'promote' | 'reject'; reason: string; imp: Improvement };

/**
 * Judges once the candidate has `replicates` OK runs and the baseline
 * `baselineMin`. Promote when delta > max(min_delta, z * sigma); ask for one
 * more replicate while delta is positive but not yet clear and the cap allows;
 * otherwise reject.
 */
export function judge(
  rule: StageRule,
  candidate: readonly Seeded[],
  baseline: readonly Seeded[],
  baselineMin: number,
  lowerIsBetter: boolean,
): Judgement {
  if (baseline.length < baselineMin)
    return { kind: 'wait', reason: `baseline has ${baseline.length}/${baselineMin} runs` };
  if (candidate.length < rule.replicates)
    return { kind: 'wait', reason: `candidate has ${candidate.length}/${rule.replicates} runs` };
  const imp = improvement(candidate, baseline, lowerIsBetter);
  const threshold = Math.max(rule.minDelta, rule.z * imp.sigma);
  const fmt = (x: number) => x.toPrecision(3);
  if (imp.delta > threshold)
    return {
      kind: 'promote',
      reason: `Δ ${fmt(imp.delta)} > ${fmt(threshold)} (max(min_delta, ${rule.z}σ), σ ${fmt(imp.sigma)}, n ${imp.n})`,
      imp,
    };
  if (imp.delta > 0 && candidate.length < rule.maxReplicates)
    return {
      kind: 'more',
      reason: `Δ ${fmt(imp.delta)} ≤ ${fmt(threshold)} with n ${imp.n}: one more replicate`,
      imp,
    };
  return {
    kind: 'reject',
    reason: `Δ ${fmt(imp.delta)} ≤ ${fmt(threshold)} (σ ${fmt(imp.sigma)}, n ${imp.n})`,
    imp,
  };
}
