/**
 * The figures a person watching a run sees (`arswarm up`'s progress and
 * final lines): a plain snapshot of the ledger state, so the CLI reads the
 * coordinator through this and never through its ledger.
 */
import { countStates } from './api/views.js';
import type { LedgerState } from './ledger/state.js';

/** A bounded run's progress, taken at one moment. */
export interface RunSummary {
  /** The shared branch's head in the ledger. */
  readonly head: string;
  /** Trials finished (any status). */
  readonly finished: number;
  /** Trials queued and not finished. */
  readonly queued: number;
  /** Candidates ever proposed. */
  readonly candidates: number;
  /** Candidates per state, lower-case state names (`active`, `merged`, ...); states with none left out. */
  readonly candidateStates: Readonly<Record<string, number>>;
  /** Merges into the shared branch. */
  readonly merges: number;
  /** The metric after the latest merge; undefined before any merge. */
  readonly best?: number;
  /** The metric before the first merge; undefined before any merge. */
  readonly baseline?: number;
  /** Workers sending heartbeats now. */
  readonly liveWorkers: number;
  /** Why the bounded run settled; empty while it goes on. */
  readonly settledReason: string;
}

/** The summary of `state`, with the figures the ledger does not hold passed in. */
export function runSummary(
  state: LedgerState,
  live: { liveWorkers: number; settledReason: string },
): RunSummary {
  return {
    head: state.head,
    finished: state.finished,
    queued: state.pending.size,
    candidates: state.candidates.size,
    candidateStates: countStates(state),
    merges: state.merges.length,
    best: state.merges.at(-1)?.metricAfter,
    baseline: state.merges[0]?.metricBefore,
    ...live,
  };
}
