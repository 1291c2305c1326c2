/**
 * Redoes every judged verdict of a ledger from the results it records: the
 * state is rebuilt event by event and, just before each verdict, the real
 * `judge()` runs on the candidate's and the baseline's samples as the
 * scheduler saw them. The evidence (trial ids, means, delta, n) must be what
 * those results give, the recorded test (level, degrees of freedom, bar)
 * must be the config's level and max(min_delta, t·σ), and the kind must
 * follow from delta against that bar. The pooled σ itself is not recomputed
 * bit for bit: the scheduler's noise pool refreshes every few results, so
 * its prior depends on when it was asked; `maxSigmaRelDiff` reports how far
 * a fresh pool's σ is from the recorded one.
 */
import { VerdictKind, type Verdict } from '../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import type { Config } from '../common/config.js';
import { studentTQuantile } from './distributions.js';
import { configLevels } from './gate.js';
import { judge, stageRuleOf } from './stage-verdict.js';
import { LedgerState } from './ledger/state.js';
import { NoisePool, replicatesByName } from './noise-pool.js';

export interface VerdictAudit {
  /** Judged verdicts whose evidence and arithmetic were redone. */
  checked: number;
  /** Verdicts recorded before the test was recorded with them (evidence redone, arithmetic not). */
  legacy: number;
  /** Largest |σ recorded − σ from a fresh noise pool| / σ recorded. */
  maxSigmaRelDiff: number;
  /** Candidates with a verdict the results do not give. */
  wrongCandidates: Set<string>;
  problems: string[];
}

const JUDGED = new Set([VerdictKind.PROMOTE, VerdictKind.REJECT, VerdictKind.INCONCLUSIVE]);

function close(a: number, b: number): boolean {
  if (a === b) return true;
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Checks every judged verdict in `events` against the results before it. */
export function auditVerdicts(events: readonly Event[], config: Config): VerdictAudit {
  const stageNames = config.stages.map((s) => s.name);
  const state = new LedgerState(stageNames);
  const levels = configLevels(config);
  const pool = new NoisePool(() => state, replicatesByName(config.stages));
  const lowerIsBetter = config.target.metric.direction === 'minimize';
  const out: VerdictAudit = {
    checked: 0,
    legacy: 0,
    maxSigmaRelDiff: 0,
    wrongCandidates: new Set(),
    problems: [],
  };
  for (const ev of events) {
    const v = ev.body.case === 'verdict' ? ev.body.value : undefined;
    if (v && JUDGED.has(v.kind) && v.trialIds.length) {
      const p = checkOne(v);
      if (p.length) {
        out.wrongCandidates.add(v.candidateId);
        out.problems.push(...p.map((x) => `verdict of ${v.candidateId} (seq ${ev.seq}): ${x}`));
      }
    }
    state.apply(ev);
  }
  return out;

  function checkOne(v: Verdict): string[] {
    const cv = state.candidates.get(v.candidateId);
    const i = stageNames.indexOf(v.stage);
    const s = config.stages[i];
    if (!cv || !s) return ['unknown candidate or stage'];
    // A mid-slot stop (coordinator/early-stop/): its recorded look must clear its own bar.
    const stop = v.kind === VerdictKind.REJECT ? state.stops.get(v.trialIds[0] ?? '') : undefined;
    if (stop) {
      const e = stop.evidence;
      if (!e) return ['a stop without evidence'];
      return e.worseBy > e.threshold ? [] : [`stopped though worse by ${e.worseBy} <= ${e.threshold}`];
    }
    const samples = state.candidateSamples(v.candidateId, cv.parent, v.stage, v.gpuClass);
    const base = state.baseline(cv.parent, v.stage, v.gpuClass);
    const ids = samples.map((x) => x.trialId).join(',');
    if (ids !== v.trialIds.join(','))
      return [`trial ids ${v.trialIds.join(',')} are not the results recorded (${ids})`];
    const rule = stageRuleOf(s, levels.look[i]);
    const j = judge(
      rule,
      samples,
      base,
      config.swarm.baseline_replicates,
      lowerIsBetter,
      pool.prior(v.stage, v.gpuClass, cv.parent),
    );
    if (j.kind === 'wait') return [`the recorded results are not enough to judge: ${j.reason}`];
    const problems: string[] = [];
    for (const [name, recorded, redone] of [
      ['delta', v.delta, j.imp.delta],
      ['candidate mean', v.candidateMean, j.imp.candidateMean],
      ['baseline mean', v.baselineMean, j.imp.baselineMean],
      ['n', v.n, j.imp.n],
    ] as const)
      if (!close(recorded, redone)) problems.push(`${name} ${recorded} but the results give ${redone}`);
    if (v.sigma > 0)
      out.maxSigmaRelDiff = Math.max(out.maxSigmaRelDiff, Math.abs(v.sigma - j.imp.sigma) / v.sigma);
    if (v.df === 0 && v.alpha === 0 && v.threshold === 0) {
      out.legacy++;
      return problems;
    }
    out.checked++;
    if (!close(v.alpha, rule.alpha ?? NaN))
      problems.push(`level ${v.alpha} is not the stage's ${rule.alpha}`);
    const critical =
      v.alpha >= 0.5 ? 0 : v.df > 0 ? studentTQuantile(1 - v.alpha, v.df) : Number.POSITIVE_INFINITY;
    const bar = critical === 0 ? 0 : critical === Number.POSITIVE_INFINITY ? critical : critical * v.sigma;
    const threshold = Math.max(rule.minDelta, bar);
    if (!close(v.threshold, threshold))
      problems.push(`bar ${v.threshold} is not max(min_delta, t·σ) = ${threshold}`);
    const kind =
      v.delta > threshold
        ? VerdictKind.PROMOTE
        : v.delta > 0 && samples.length < rule.maxReplicates
          ? VerdictKind.INCONCLUSIVE
          : VerdictKind.REJECT;
    if (kind !== v.kind)
      problems.push(
        `${VerdictKind[v.kind]} but Δ ${v.delta} against the bar ${threshold} means ${VerdictKind[kind]}`,
      );
    return problems;
  }
}
