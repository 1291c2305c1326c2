/**
 * What the ledger says each proposer made and spent, for the pool's budgets
 * (tokens, dollars, candidates) over the swarm's life, across restarts.
 */
import type { Ledger } from '../ledger/ledger.js';
import type { LedgerState } from '../ledger/state.js';
import type { PriorSpend } from '../proposers/pool/index.js';

/** Candidates recorded so far for a proposer. */
export function candidatesOf(state: LedgerState, name: string): number {
  let n = 0;
  for (const v of state.candidates.values()) if (v.candidate.proposer === name) n++;
  return n;
}

/** Tokens and dollars a proposer spent so far, from the ledger (candidates and failed attempts). */
export async function priorSpend(ledger: Ledger, name: string): Promise<PriorSpend> {
  const out: PriorSpend = { tokens: 0, dollars: 0, stopped: false };
  for (const v of ledger.state.candidates.values()) {
    const u = v.candidate.usage;
    if (v.candidate.proposer !== name || !u) continue;
    out.tokens += Number(u.inputTokens + u.outputTokens);
    out.dollars += u.costUsd;
  }
  // Failed attempts are not in the views; read them from the stored events.
  if (ledger.state.proposerFailures > 0)
    for await (const ev of ledger.history(1n)) {
      if (ev.body.case !== 'proposerFailed' || ev.body.value.proposer !== name) continue;
      const u = ev.body.value.usage;
      if (u) {
        out.tokens += Number(u.inputTokens + u.outputTokens);
        out.dollars += u.costUsd;
      }
      if (ev.body.value.code === 'budget_exhausted') out.stopped = true;
    }
  return out;
}
