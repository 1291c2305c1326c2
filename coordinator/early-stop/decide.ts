/**
 * Which running trials the stopper judges, and the judgement itself: pure
 * functions of the ledger state, the config and a trial's live points.
 *
 * Only candidate trials of a stage with `early_stop` are judged, while their
 * candidate is active: baselines are the reference, reruns (`arswarm rerun`)
 * are exact copies asked for by a person and kept out of the ladder, and a
 * stage without early_stop (a confirm or scale rung) always runs its slot.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Config, StageConfig } from '../../common/config.js';
import type { CurvePoint } from '../../common/curve.js';
import { reached } from '../../common/curve.js';
import { ANY_GPU_CLASS } from '../../common/subjects.js';
import { CandidateState } from '../../gen/arswarm/v1/candidate_pb.js';
import type { TrialStoppedSchema } from '../../gen/arswarm/v1/event_pb.js';
import { TrialKind } from '../../gen/arswarm/v1/trial_pb.js';
import type { LedgerState, TrialView } from '../ledger/state.js';
import { baselineCurves, priorOf } from './reference.js';
import { earlyStopRuleOf, judgeCurve, looksOf, type EarlyStopRule, type StopJudgement } from './rule.js';

/** A running candidate trial the stopper judges. */
export interface JudgedTrial {
  tv: TrialView;
  stage: StageConfig;
  rule: EarlyStopRule;
  /** The class whose baselines it is compared with. */
  gpuClass: string;
}

/**
 * The trial as the stopper judges it, or why it is not judged. `workerId` is
 * the worker whose progress this is and `classOf` its GPU class from the
 * heartbeats: a trial queued for any class runs on the class of the worker
 * that took it, which its TrialStarted fact records once it is in.
 */
export function judgedTrial(
  state: LedgerState,
  config: Config,
  trialId: string,
  workerId: string,
  classOf: (workerId: string) => string | undefined,
): JudgedTrial | string {
  const tv = state.trials.get(trialId);
  if (!tv) return 'not a trial of the ladder';
  if (tv.result) return 'finished';
  if (tv.trial.kind !== TrialKind.CANDIDATE) return 'not a candidate trial';
  const name = tv.trial.stage?.name ?? '';
  const stage = config.stages.find((s) => s.name === name);
  const rule = stage && earlyStopRuleOf(stage);
  if (!stage || !rule) return `stage ${name} has no early_stop`;
  const v = state.candidates.get(tv.trial.candidateId);
  if (v?.state !== CandidateState.ACTIVE) return 'its candidate is no longer active';
  // A late replicate of a stage already decided, or of a parent it was rebased from: no stop decides anything.
  if (state.stageNames[v.stageIndex] !== name || v.parent !== tv.trial.parentCommit)
    return 'its candidate has moved on from this stage or parent';
  const started = tv.started?.workerId === workerId ? tv.started.gpuClass : '';
  const gpuClass =
    started || (tv.trial.gpuClass !== ANY_GPU_CLASS ? tv.trial.gpuClass : '') || classOf(workerId) || '';
  if (!gpuClass) return `GPU class of worker ${workerId} not known yet`;
  return { tv, stage, rule, gpuClass };
}

/**
 * Share of the slot a stop must leave unrun. A curve that has reached the
 * end (a run's last points arrive with its result) is left alone: its full
 * result is about to be better evidence than a look, and a stop would save
 * nothing. @default 0.05
 */
export const MIN_UNRUN_SHARE = 0.05;

/** Whether stopping a run whose curve reached this far can still save GPU time. */
export function worthStopping(points: readonly CurvePoint[]): boolean {
  return reached(points) < 1 - MIN_UNRUN_SHARE;
}

/** Looks a curve has passed (each is judged once its window is complete). */
export function looksPassed(rule: EarlyStopRule, points: readonly CurvePoint[]): number {
  const at = reached(points);
  return looksOf(rule).filter((l) => at > l).length;
}

/** Judges a trial's live curve against its parent's baselines at its stage and class. */
export function judgeTrial(
  state: LedgerState,
  config: Config,
  j: JudgedTrial,
  points: readonly CurvePoint[],
): StopJudgement & { baselines: number } {
  const { parentCommit: parent } = j.tv.trial;
  const baselines = baselineCurves(state, parent, j.stage.name, j.gpuClass);
  const prior = priorOf(state, parent, j.stage.name, j.gpuClass, j.rule.window);
  const lowerIsBetter = config.target.progress.direction === 'minimize';
  return { ...judgeCurve(j.rule, points, baselines, lowerIsBetter, prior), baselines: baselines.length };
}

/** The ledger fact of a stop. */
export function stopFact(
  j: JudgedTrial,
  workerId: string,
  judgement: Extract<StopJudgement, { stop: true }>,
): MessageInitShape<typeof TrialStoppedSchema> {
  return {
    trialId: j.tv.trial.id,
    candidateId: j.tv.trial.candidateId,
    stage: j.stage.name,
    gpuClass: j.gpuClass,
    workerId,
    reason: judgement.reason,
    evidence: judgement.evidence,
  };
}
