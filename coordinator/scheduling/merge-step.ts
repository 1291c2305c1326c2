/**
 * The merge step of a candidate that passed the top stage: whether it merges
 * now (audit, review, merge policy), rebasing it onto a moved head for
 * revalidation, and the merge itself.
 */
import { CandidateState, VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { ArswarmError } from '../../common/errors.js';
import { dedupeIds } from '../../common/subjects.js';
import type { CandidateView } from '../ledger/state.js';
import { recoverMerges } from '../branch-reconcile.js';
import { audited } from '../gaming-audit/index.js';
import { verdict } from './record.js';
import type { SchedulingContext } from './context.js';

/** Carries a candidate onto the head for (re)validation at the top stage, or rejects it on conflict. */
export async function rebase(ctx: SchedulingContext, v: CandidateView): Promise<void> {
  const head = ctx.state.head;
  try {
    const diff = await ctx.d.merger.rebase(v.diff, head);
    await ctx.d.ledger.append({
      case: 'candidateRebased',
      value: { candidateId: v.candidate.id, parentCommit: head, diff },
    });
    ctx.d.log(`${v.candidate.id} rebased onto ${head.slice(0, 7)} for top-stage validation`);
  } catch (err) {
    const e = ArswarmError.from(err);
    await verdict(ctx, v, VerdictKind.REJECT, {
      stage: ctx.d.factory.stage(v.stageIndex).name,
      reason: `cannot rebase onto head: ${e.message}`,
    });
  }
}

/**
 * Whether a candidate in review merges now: once the audit of its current
 * diff is recorded, with a person's approval, or under `auto` when no audit
 * flagged it. Starts the audit when none covers its current diff.
 */
export function mayMerge(ctx: SchedulingContext, v: CandidateView): boolean {
  const a = ctx.d.audit;
  if (a && !audited(v)) {
    a.request(v);
    return false;
  }
  return v.approved || (ctx.d.config.swarm.merge_policy === 'auto' && v.flags.length === 0);
}

/** A flagged candidate waits for a person, not for the swarm: a bounded run may end meanwhile. */
export function waitsForPerson(ctx: SchedulingContext, v: CandidateView): boolean {
  return !!ctx.d.audit && audited(v) && v.flags.length > 0 && !v.approved;
}

/** Merges a candidate that passed the top stage; revalidates first if the head moved. */
export async function merge(ctx: SchedulingContext, v: CandidateView): Promise<void> {
  // A merge commit whose ledger event failed (NATS restarting) leaves the
  // branch ahead of the ledger: record it first, or every later merge's
  // compare-and-swap fails against the stale head and the swarm stalls.
  // (Catching up may also apply this very merge, stored though its append failed.)
  const recovered = await recoverMerges(ctx.d.ledger, ctx.d.merger.repo);
  if (recovered.length)
    ctx.d.log(
      `recorded merge(s) of ${recovered.join(', ')} found on the shared branch after a failed ledger write`,
    );
  if (v.state !== CandidateState.REVIEW) return;
  if (v.parent !== ctx.state.head) {
    await rebase(ctx, v);
    return;
  }
  const merged = await ctx.d.merger.merge(v, ctx.state.head);
  await ctx.d.ledger.append({ case: 'merged', value: merged }, dedupeIds.merged(v.candidate.id));
  ctx.d.log(
    `merged ${v.candidate.id} "${v.candidate.title}" as ${merged.commit.slice(0, 7)} (${merged.metricBefore.toFixed(6)} -> ${merged.metricAfter.toFixed(6)})`,
  );
}
