/**
 * The baseline runs a commit needs at a stage on each GPU class, queued when
 * missing, retried after failures, and reported as broken when the baseline
 * itself fails.
 */
import { TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { eligibleClasses } from '../fleet.js';
import { queue } from './record.js';
import type { SchedulingContext } from './context.js';

/** Failures (not infra) of one baseline replicate before the baseline counts as broken. */
export const MAX_BASELINE_FAILURES = 3;

/** Queues missing baseline replicates of `commit` at a stage for every live GPU class that may run it. */
export async function ensureBaselines(
  ctx: SchedulingContext,
  commit: string,
  stageIndex: number,
): Promise<void> {
  if (!commit) return;
  for (const c of eligibleClasses(ctx.d.factory.stage(stageIndex), ctx.d.fleet()))
    await ensureBaselinesFor(ctx, commit, stageIndex, c.gpuClass);
}

/**
 * Queues missing baseline replicates of `commit` at a stage for a GPU class.
 * Infra failures are retried without a cap (they are never the code's fault,
 * and workers back off on their own failures); other failures up to
 * MAX_BASELINE_FAILURES. Returns the reason when the baseline itself fails, so
 * candidates waiting on it are not left hanging.
 */
export async function ensureBaselinesFor(
  ctx: SchedulingContext,
  commit: string,
  stageIndex: number,
  gpuClass: string,
  want = ctx.d.config.swarm.baseline_replicates,
): Promise<string | undefined> {
  const stage = ctx.d.factory.stage(stageIndex);
  const trials = ctx.state.baselineTrialsOf(commit, stage.name, gpuClass);
  for (let r = 0; r < want; r++) {
    const mine = trials.filter((t) => t.trial.replicate === r);
    const last = mine.reduce((m, t) => Math.max(m, t.trial.attempt), 0);
    const result = mine.find((t) => t.trial.attempt === last)?.result;
    if (result && result.status !== TrialStatus.OK && result.status !== TrialStatus.INFRA) {
      const failures = mine.filter(
        (t) => t.result && t.result.status !== TrialStatus.OK && t.result.status !== TrialStatus.INFRA,
      );
      if (failures.length >= MAX_BASELINE_FAILURES)
        return `the baseline ${commit.slice(0, 7)} itself fails at ${stage.name} on ${gpuClass}: ${TrialStatus[result.status].toLowerCase()}: ${result.reason}`;
    }
    if (mine.length === 0 || (result && result.status !== TrialStatus.OK))
      await queue(
        ctx,
        await ctx.d.factory.baselineTrial({
          parent: commit,
          stageIndex,
          gpuClass,
          replicate: r,
          attempt: last + 1,
        }),
      );
  }
  return undefined;
}
