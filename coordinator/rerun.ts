/**
 * `arswarm rerun TRIAL`: an exact copy of a finished trial (same commit,
 * diff, stage with its env, seed, replicate, target spec), pinned to the GPU
 * class its result came from, under a new id and kind RERUN. The ledger
 * state keeps reruns apart from every other trial, so a rerun never counts as
 * evidence, as a baseline, towards the trial budget or in any status count.
 */
import { create } from '@bufbuild/protobuf';
import { TrialKind, TrialSchema, type Trial } from '../gen/arswarm/v1/trial_pb.js';
import { ArswarmError, Code } from '../common/errors.js';
import type { LedgerState } from './ledger/state.js';

/** How a rerun's id is made from the trial it copies: `<trial id>.rerun<k>`, k from 1. */
export function rerunId(trialId: string, k: number): string {
  return `${trialId}.rerun${k}`;
}

/** The trial a rerun copies (`<trial id>.rerun<k>` -> `<trial id>`). */
export function originalOf(rerunTrialId: string): string {
  return rerunTrialId.replace(/\.rerun\d+$/, '');
}

/** The rerun to queue for `trialId`; NotFound or FailedPrecondition (not finished, a rerun itself) otherwise. */
export function rerunOf(state: LedgerState, trialId: string, nowMs: number): Trial {
  if (!trialId) throw new ArswarmError(Code.InvalidArgument, 'trial_id is required', { field: 'trial_id' });
  if (state.reruns.has(trialId))
    throw new ArswarmError(Code.FailedPrecondition, `${trialId} is a rerun; rerun the trial it copies`, {
      trialId,
      reason: 'is_rerun',
    });
  const tv = state.trials.get(trialId);
  if (!tv) throw new ArswarmError(Code.NotFound, `no trial "${trialId}"`, { trialId, field: 'trial_id' });
  if (!tv.result)
    throw new ArswarmError(Code.FailedPrecondition, `${trialId} has not finished; rerun it once it has`, {
      trialId,
      reason: 'not_finished',
    });
  let k = 1;
  while (state.reruns.has(rerunId(trialId, k))) k++;
  const t = tv.trial;
  return create(TrialSchema, {
    id: rerunId(trialId, k),
    kind: TrialKind.RERUN,
    candidateId: t.candidateId,
    stage: t.stage,
    parentCommit: t.parentCommit,
    diff: t.diff,
    seed: t.seed,
    replicate: t.replicate,
    attempt: 0,
    // The class that produced the original result: results of different classes are not comparable.
    gpuClass: tv.result.gpuClass || t.gpuClass,
    target: t.target,
    queuedAtMs: BigInt(nowMs),
  });
}
