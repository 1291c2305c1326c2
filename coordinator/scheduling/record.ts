/**
 * What the scheduler writes for a candidate: its trials, published and then
 * recorded as queued (idempotent by trial id), and its verdicts.
 */
import type { VerdictKind, Verdict } from '../../gen/arswarm/v1/candidate_pb.js';
import type { Trial } from '../../gen/arswarm/v1/trial_pb.js';
import { dedupeIds } from '../../common/subjects.js';
import type { CandidateView } from '../ledger/state.js';
import type { SchedulingContext } from './context.js';

export async function queue(ctx: SchedulingContext, trial: Trial): Promise<void> {
  if (ctx.state.trials.has(trial.id)) return;
  await ctx.d.publish(trial);
  await ctx.d.ledger.append({ case: 'trialQueued', value: { trial } }, dedupeIds.trialQueued(trial.id));
}

/** Queues one replicate of a candidate at a stage against its current parent and diff, on a class's queue. */
export async function queueReplicate(
  ctx: SchedulingContext,
  v: CandidateView,
  stageIndex: number,
  replicate: number,
  attempt: number,
  gpuClass: string,
): Promise<void> {
  const { id: candidateId } = v.candidate;
  await queue(
    ctx,
    await ctx.d.factory.candidateTrial({
      candidateId,
      parent: v.parent,
      diff: v.diff,
      stageIndex,
      replicate,
      attempt,
      gpuClass,
    }),
  );
}

export async function verdict(
  ctx: SchedulingContext,
  v: CandidateView,
  kind: VerdictKind,
  fields: Partial<Verdict> & { stage: string; reason: string },
) {
  await ctx.d.ledger.append({
    case: 'verdict',
    value: {
      $typeName: 'arswarm.v1.Verdict',
      candidateId: v.candidate.id,
      kind,
      delta: 0,
      sigma: 0,
      n: 0,
      gpuClass: '',
      trialIds: [],
      candidateMean: 0,
      baselineMean: 0,
      df: 0,
      alpha: 0,
      threshold: 0,
      ...fields,
    },
  });
}
