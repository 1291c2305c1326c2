/**
 * One proposer's place in the pool: its concurrency and timeout, what runs,
 * what it spent, and when it may try again.
 */
import { PROPOSER_LIMIT_DEFAULTS, type Proposer } from '../proposer.js';
import type { Spend } from './types.js';
import { withDefaults } from '../../../common/option-defaults.js';

export interface Slot {
  p: Proposer;
  concurrency: number;
  timeoutMs: number;
  inflight: number;
  spent: Spend;
  failures: number;
  retryAt: number;
  /** Head at which it last had nothing new. */
  idleHead?: string;
  /** Why it will never offer anything at `idleHead` (Proposer.exhausted), if it said so. */
  exhausted?: string;
  /** Why it stopped (budget), once stopped. */
  stopped?: string;
}

/** A fresh slot for a proposer, from its limits. */
export function slotOf(p: Proposer): Slot {
  const { concurrency, timeoutMs } = withDefaults(PROPOSER_LIMIT_DEFAULTS, p.limits ?? {});
  return {
    p,
    concurrency: Math.max(1, concurrency),
    timeoutMs,
    inflight: 0,
    spent: { tokens: 0, dollars: 0 },
    failures: 0,
    retryAt: 0,
  };
}
