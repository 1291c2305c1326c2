/**
 * One active candidate's step at its stage: a crash or a mid-slot stop ends
 * it, missing replicates are queued on its pinned GPU class, and once the
 * evidence is in the judge's verdict is recorded; a promotion moves it up
 * (rebased onto the head before the top stage) or on to the merge step.
 */
import { VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { ANY_GPU_CLASS } from '../../common/subjects.js';
import type { CandidateView } from '../ledger/state.js';
import { judge, stageRuleOf, type StageRule } from '../stage-verdict.js';
import { nextAttempt, pinStage } from '../stage-pin.js';
import { queuedByClass } from '../waiting.js';
import { ensureBaselinesFor } from './baselines.js';
import { mayMerge, merge, rebase } from './merge-step.js';
import { queueReplicate, verdict } from './record.js';
import type { SchedulingContext } from './context.js';

/**
 * Attempts of one candidate replicate after infra failures before the
 * candidate counts as crashed (workers back off on their own failures, so
 * reaching this means the trial breaks every worker it meets).
 */
export const MAX_INFRA_ATTEMPTS = 10;

/** Statuses that end a candidate's stage as crashed. */
const CANDIDATE_FAILURES = new Set([
  TrialStatus.CRASH,
  TrialStatus.NAN,
  TrialStatus.TIMEOUT,
  TrialStatus.OOM,
  TrialStatus.INTEGRITY,
]);

export function rule(ctx: SchedulingContext, stageIndex: number): StageRule {
  const s = ctx.d.config.stages[stageIndex];
  if (!s) throw new Error(`no stage ${stageIndex}`);
  return stageRuleOf(s, ctx.levels.look[stageIndex]);
}

/** Moves one active candidate forward at its current stage. */
export async function advance(ctx: SchedulingContext, v: CandidateView): Promise<void> {
  const stageIndex = v.stageIndex;
  const stage = ctx.d.factory.stage(stageIndex);
  const trials = ctx.state.trialsOf(v.candidate.id, v.parent, stage.name);
  // Stopped mid-slot (its curve clearly worse than the baseline's): a rejection, not a crash.
  // Only a recorded TrialStopped counts (the coordinator appends it before it
  // asks the worker): a STOPPED result without one has no evidence, so it is
  // retried below like an infra failure instead of deciding anything.
  const stopped = trials.find((t) => ctx.state.stops.has(t.trial.id));
  if (stopped) {
    const s = ctx.state.stops.get(stopped.trial.id)!;
    // The look's numbers are in the intermediate metric's units (a training
    // loss, not the target metric), so they stay in the TrialStopped fact: the
    // verdict's Δ, n and means are left empty and nothing (the journal's Δ, a
    // proposer's history, the optimizer) reads a loss as the target metric.
    await verdict(ctx, v, VerdictKind.REJECT, {
      stage: stage.name,
      reason: s.reason || 'stopped mid-slot',
      trialIds: [stopped.trial.id],
      gpuClass: s.gpuClass || stopped.result?.gpuClass || '',
    });
    return;
  }
  // A failure of the candidate's own making ends it.
  const failed = trials.find((t) => t.result && CANDIDATE_FAILURES.has(t.result.status));
  if (failed) {
    const r = failed.result!;
    await verdict(ctx, v, VerdictKind.CRASHED, {
      stage: stage.name,
      reason: `${TrialStatus[r.status].toLowerCase()}: ${r.reason || 'no reason given'}`,
      trialIds: [r.trialId],
      gpuClass: r.gpuClass,
    });
    return;
  }
  // Every replicate of a candidate at a stage runs on one GPU class and is
  // judged against that class's baseline (stage-pin.ts).
  const pin = pinStage({
    stage,
    trials,
    fleet: ctx.d.fleet(),
    queued: queuedByClass(ctx.state),
    warm: ctx.warm(),
    baselineReady: (c) =>
      ctx.state.baseline(v.parent, stage.name, c).length >= ctx.d.config.swarm.baseline_replicates,
    replicates: stage.replicates,
  });
  // No live worker may run the stage: the candidate waits (status shows it) and other work goes on.
  if (pin.kind === 'waiting') return;
  const queueClass = pin.kind === 'pinned' ? pin.gpuClass : ANY_GPU_CLASS;
  if (pin.kind === 'pinned' && pin.reroutedFrom)
    ctx.d.log(
      `${v.candidate.id} at ${stage.name}: no live ${pin.reroutedFrom} worker, re-routed to ${pin.gpuClass}`,
    );
  // Replicates: the stage's count, plus any extra the judge asked for.
  const replicates = new Map<number, { attempt: number; done: boolean; ok: boolean }>();
  for (const t of pin.trials) {
    const cur = replicates.get(t.trial.replicate);
    if (!cur || t.trial.attempt > cur.attempt)
      replicates.set(t.trial.replicate, {
        attempt: t.trial.attempt,
        done: !!t.result,
        ok: t.result?.status === TrialStatus.OK,
      });
  }
  for (const [r, info] of replicates) {
    if (info.done && !info.ok) {
      // Infra: retry elsewhere, a bounded number of times.
      if (info.attempt >= MAX_INFRA_ATTEMPTS) {
        await verdict(ctx, v, VerdictKind.CRASHED, {
          stage: stage.name,
          reason: `infra failures on ${MAX_INFRA_ATTEMPTS} attempts of replicate ${r + 1}`,
        });
        return;
      }
      await queueReplicate(ctx, v, stageIndex, r, nextAttempt(trials, r), queueClass);
    }
  }
  for (let r = 0; r < stage.replicates; r++)
    if (!replicates.has(r)) await queueReplicate(ctx, v, stageIndex, r, nextAttempt(trials, r), queueClass);
  const pending = [...replicates.values()].some((i) => !i.done) || replicates.size < stage.replicates;
  // Judge on the pinned class; trials queued before any worker was seen, within the class that ran most.
  let gpuClass = pin.kind === 'pinned' ? pin.gpuClass : undefined;
  if (!gpuClass) {
    const classes = new Map<string, number>();
    for (const t of pin.trials)
      if (t.result?.status === TrialStatus.OK)
        classes.set(t.result.gpuClass, (classes.get(t.result.gpuClass) ?? 0) + 1);
    gpuClass = [...classes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  }
  if (!gpuClass) return;
  const samples = ctx.state.candidateSamples(v.candidate.id, v.parent, stage.name, gpuClass);
  const base = ctx.state.baseline(v.parent, stage.name, gpuClass);
  // As many baseline runs as the candidate has replicates, so every extra
  // replicate has a paired baseline run with its seed.
  const wantBase = Math.max(ctx.d.config.swarm.baseline_replicates, replicates.size);
  if (base.length < wantBase) {
    const broken = await ensureBaselinesFor(ctx, v.parent, stageIndex, gpuClass, wantBase);
    if (broken) {
      await verdict(ctx, v, VerdictKind.CRASHED, { stage: stage.name, reason: broken, gpuClass });
      return;
    }
  }
  if (pending && samples.length < stage.replicates) return;
  const j = judge(
    rule(ctx, stageIndex),
    samples,
    base,
    ctx.d.config.swarm.baseline_replicates,
    ctx.d.config.target.metric.direction === 'minimize',
    ctx.noise.prior(stage.name, gpuClass, v.parent),
  );
  if (j.kind === 'wait') return;
  if (j.kind === 'more' && pending) return;
  const evidence = {
    stage: stage.name,
    reason: j.reason,
    delta: j.imp.delta,
    sigma: j.imp.sigma,
    n: j.imp.n,
    gpuClass,
    trialIds: samples.map((s) => s.trialId),
    candidateMean: j.imp.candidateMean,
    baselineMean: j.imp.baselineMean,
    // The test itself, so an audit can redo the arithmetic (audit-verdicts.ts).
    df: j.imp.df,
    alpha: j.imp.alpha,
    threshold: j.imp.threshold,
  };
  if (j.kind === 'more') {
    await verdict(ctx, v, VerdictKind.INCONCLUSIVE, evidence);
    await queueReplicate(
      ctx,
      v,
      stageIndex,
      replicates.size,
      nextAttempt(trials, replicates.size),
      queueClass,
    );
    return;
  }
  if (j.kind === 'reject') {
    await verdict(ctx, v, VerdictKind.REJECT, evidence);
    return;
  }
  await verdict(ctx, v, VerdictKind.PROMOTE, evidence);
  ctx.d.log(`${v.candidate.id} promoted at ${stage.name}: ${j.reason}`);
  const next = stageIndex + 1;
  if (next < ctx.d.factory.stages.length) {
    // The top stage's evidence must be against the current head.
    if (next === ctx.d.factory.stages.length - 1 && v.parent !== ctx.state.head) await rebase(ctx, v);
  } else if (mayMerge(ctx, v)) await merge(ctx, v);
}
