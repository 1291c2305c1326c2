/**
 * Proposer budgets (tokens, dollars, candidates), counted over the swarm's
 * life, and the ledger facts that make them survive a restart: one
 * `budget_exhausted` event when a budget stops a proposer, and `abandoned`
 * for what paid proposals cost when they were never used.
 */
import { ArswarmError } from '../../../common/errors.js';
import type { LlmCost } from '../proposer.js';
import type { Slot } from './slot.js';
import type { PoolDeps } from './types.js';

type Recorder = Pick<PoolDeps, 'record' | 'log'>;

/** A cost as the ledger's LlmUsage takes it. */
export function wire(u: LlmCost | undefined) {
  return u && { ...u, inputTokens: BigInt(u.inputTokens), outputTokens: BigInt(u.outputTokens) };
}

/** Why a proposer may spend no more, or undefined. */
export function overBudget(s: Slot, d: Pick<PoolDeps, 'candidatesOf'>): string | undefined {
  const l = s.p.limits;
  if (!l) return undefined;
  if (l.tokens && s.spent.tokens >= l.tokens) return `${s.spent.tokens} of ${l.tokens} tokens`;
  if (l.dollars && s.spent.dollars >= l.dollars)
    return `$${s.spent.dollars.toFixed(4)} of $${l.dollars.toFixed(2)}`;
  if (l.candidates && d.candidatesOf(s.p.name) >= l.candidates)
    return `${d.candidatesOf(s.p.name)} of ${l.candidates} candidates`;
  return undefined;
}

/** Records what a paid proposal that was never used cost, so budgets still count it. */
export async function recordAbandoned(
  d: Recorder,
  proposer: string,
  usage: LlmCost,
  why: string,
): Promise<void> {
  await d
    .record({
      case: 'proposerFailed',
      value: { proposer, code: 'abandoned', reason: `proposal abandoned: ${why}`, usage: wire(usage) },
    })
    .catch((err: unknown) =>
      d.log(`cannot record what ${proposer} spent: ${ArswarmError.from(err).message}`),
    );
}

/** Stops a proposer for good (budget), with one event. */
export async function stopSlot(d: Recorder, s: Slot, why: string, usage?: LlmCost): Promise<void> {
  if (s.stopped) return;
  s.stopped = why;
  await recordStop(d, s, why, usage);
}

/** The `budget_exhausted` event of a proposer that stopped. */
export async function recordStop(d: Recorder, s: Slot, why: string, usage?: LlmCost): Promise<void> {
  d.log(`proposer ${s.p.name} stopped: budget exhausted (${why})`);
  await d
    .record({
      case: 'proposerFailed',
      value: {
        proposer: s.p.name,
        code: 'budget_exhausted',
        reason: `budget exhausted (${why}); ${s.p.name} proposes no more`,
        usage: wire(usage),
      },
    })
    .catch((err: unknown) =>
      d.log(`cannot record the stop of ${s.p.name}: ${ArswarmError.from(err).message}`),
    );
}
