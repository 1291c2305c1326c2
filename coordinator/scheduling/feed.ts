/**
 * What to start next: new proposals from the intake while fewer trials than
 * the fleet's prefetch are queued for live workers.
 */
import type { CandidateView } from '../ledger/state.js';
import { eligibleClasses } from '../fleet.js';
import { runnablePending } from '../waiting.js';
import type { SchedulingContext } from './context.js';

/**
 * Keeps the lowest stage fed: asks for proposals until enough trials are
 * queued. Only work some live worker can run counts: trials waiting for a
 * worker that is not there must not stop the others from getting work.
 */
export async function feed(
  ctx: SchedulingContext,
  /** Takes a new candidate's first step (the scheduler isolates its failures). */
  step: (v: CandidateView) => Promise<void>,
): Promise<void> {
  if (!ctx.state.head) return;
  const want = ctx.d.workerCount() * ctx.d.config.swarm.prefetch;
  const fleet = ctx.d.fleet();
  // A first stage no live worker can run would only pile up candidates that
  // wait; the stage warning (status, log) says why nothing is proposed.
  if (fleet.length > 0 && eligibleClasses(ctx.d.factory.stage(0), fleet).length === 0) return;
  // With no worker seen yet every queued trial counts (they go to `any` and wait for the first).
  const inFlight = () => (fleet.length > 0 ? runnablePending(ctx.state, fleet) : ctx.state.pending.size);
  let guard = 0;
  while (inFlight() < want && guard++ < want) {
    const accepted = await ctx.d.intake.proposeOne();
    if (!accepted) break;
    const v = ctx.state.candidates.get(accepted);
    if (v) await step(v);
  }
}
