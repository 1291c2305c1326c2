/**
 * One proposer's place in the pool: its concurrency and timeout, what runs,
 * what it spent, and when it may try again.
 */
import type { Proposer } from '../proposer.js';
import type { Spend } from './types.js';

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
  return {
    p,
    concurrency: Math.max(1, p.limits?.concurrency ?? 1),
    timeoutMs: p.limits?.timeoutMs ?? 600_000,
    inflight: 0,
    spent: { tokens: 0, dollars: 0 },
    failures: 0,
    retryAt: 0,
  };
}
