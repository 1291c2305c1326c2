/** What every proposer (knobs, claude, human) gives the scheduler. */
import type { FileChange } from '../repo.js';

/** What a proposer may look at. */
export interface ProposalContext {
  /** The shared branch head the proposal is based on. */
  head: string;
  /** Editable files at head (paths). */
  editable: string[];
  /** Reads a file at head. */
  readFile(path: string): Promise<string | undefined>;
  /** Constants that stages set (e.g. DEPTH) and must not be proposed. */
  stageParams: ReadonlySet<string>;
}

export interface LlmCost {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  model: string;
}

/** One idea: a change to editable files, with its reason. */
export interface Proposal {
  title: string;
  hypothesis: string;
  changes: FileChange[];
  usage?: LlmCost;
}

export interface Proposer {
  /** Recorded as the candidate's proposer. */
  readonly name: string;
  /** Resolves to a proposal, or null when it has nothing new to offer. */
  propose(ctx: ProposalContext): Promise<Proposal | null>;
}
