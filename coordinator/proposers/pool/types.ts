/**
 * The proposal pool's public shapes: what it hands out (ready proposals),
 * what it needs from the intake (deps), its timings and its counters.
 */
import type { EventBody } from '../../ledger/ledger.js';
import type { FileChange } from '../../repo.js';
import type { LlmCost, Proposal, ProposalContext, Proposer } from '../proposer.js';

/** A proposal ready to become a candidate. */
export interface ReadyProposal {
  proposer: string;
  proposal: Proposal;
  /** The head it was made against (its diff's parent). */
  head: string;
  diff: string;
  /** What the whole attempt cost (every request of the conversation). */
  usage?: LlmCost;
  readyAtMs: number;
  latencyMs: number;
}

/** Tokens and dollars spent. */
export interface Spend {
  tokens: number;
  dollars: number;
}

/** What the ledger says a proposer spent before this process. */
export interface PriorSpend extends Spend {
  /** A budget_exhausted event was recorded already. */
  stopped: boolean;
}

/** The context parts that do not depend on the proposer. */
export type BaseContext = Omit<ProposalContext, 'charge' | 'withinBudget' | 'signal'>;

export interface PoolDeps {
  proposers: readonly Proposer[];
  /** The context at the current head. */
  baseContext(): Promise<BaseContext>;
  /** A diff of `changes` against `head`, for proposers that did not make one. */
  makeDiff(head: string, changes: FileChange[]): Promise<string>;
  /** Appends a fact, in turn with the coordinator's other state changes. */
  record(body: EventBody): Promise<void>;
  /** What each proposer spent before this process started (ledger). */
  priorSpend(name: string): Promise<PriorSpend>;
  /** Candidates recorded so far for a proposer (ledger). */
  candidatesOf(name: string): number;
  /** Ready proposals to keep buffered; 0 when none are wanted (paused, trial budget spent). */
  target(): number;
  log(msg: string): void;
}

export interface PoolOptions {
  /** How often the pool looks for work to start (backoffs ending, head moves). @default 200 */
  pumpIntervalMs?: number;
  /** First wait after a failure; doubles per consecutive failure. @default 1000 */
  failureBackoffMs?: number;
  /** Longest wait after failures. @default 120000 */
  maxBackoffMs?: number;
  /** Pause after a proposal that ended without a valid idea (refused submissions). @default 500 */
  contentPauseMs?: number;
  /** Wait after a proposer had nothing new, unless the head moves first. @default 5000 */
  idleBackoffMs?: number;
  now?: () => number;
}

/** Defaults of PoolOptions (the values documented there). */
export const POOL_DEFAULTS: ResolvedPoolOptions = {
  pumpIntervalMs: 200,
  failureBackoffMs: 1000,
  maxBackoffMs: 120_000,
  contentPauseMs: 500,
  idleBackoffMs: 5000,
  now: Date.now,
};

/** Every pool option present. */
export type ResolvedPoolOptions = Readonly<Required<PoolOptions>>;

/** Counters for status pages and benchmarks. */
export interface PoolStats {
  buffered: number;
  inflight: number;
  produced: number;
  failures: number;
  takes: number;
  /** take() calls that found no proposal ready. */
  emptyTakes: number;
  /** Mean time from start to a ready proposal, ms. */
  meanLatencyMs: number;
}
