/**
 * Hybrid mode, the LLM's side: a proposer (claude) whose journal — its first
 * message and its read_journal tool — ends with the optimizer's best region,
 * so the model can reason from what the search found. The optimizer's side
 * (learning from the LLM's constant changes) is OptunaProposer's `hybrid`.
 */
import type { ProposalContext, Proposer } from '../proposer.js';

/** Something that can describe its best region as text (empty when it has none yet). */
export interface RegionSource {
  region(): string;
}

/** `inner` with `source`'s best region appended to the journal it reads. */
export function withRegion(inner: Proposer, source: RegionSource): Proposer {
  const wrapped: Proposer = {
    name: inner.name,
    limits: inner.limits,
    propose(ctx: ProposalContext) {
      // Object.create keeps the context's own fields and methods (whatever their `this`).
      const c = Object.create(ctx) as ProposalContext;
      c.journal = () => {
        const region = source.region();
        const journal = ctx.journal();
        return region ? `${journal.trimEnd()}\n\n${region}\n` : journal;
      };
      return inner.propose(c);
    },
  };
  if (inner.close) wrapped.close = () => inner.close!();
  if (inner.exhausted) wrapped.exhausted = (head) => inner.exhausted!(head);
  return wrapped;
}
