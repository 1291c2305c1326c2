/** What every proposer (knobs, claude, human) gives the intake, and what it may look at. */
import type { PatchRules } from '../../common/diff/index.js';
import type { HistoryEntry } from '../journal.js';
import type { FileChange } from '../repo.js';

/** What a proposer may look at and use while it works on one idea. */
export interface ProposalContext {
  /** The shared branch head the proposal is based on. */
  head: string;
  /** Editable files at head (paths). */
  editable: string[];
  /** Every file at head (paths), editable or not. */
  files: string[];
  /** Reads a file at head. */
  readFile(path: string): Promise<string | undefined>;
  /** Reads a file at any commit (a candidate's parent). */
  readFileAt(commit: string, path: string): Promise<string | undefined>;
  /** Constants that stages set (e.g. DEPTH) and must not be proposed. */
  stageParams: ReadonlySet<string>;
  /** What a patch may touch (editable, locked, protected lines, size). */
  rules: PatchRules;
  /** The research journal as text (kept, rejected with Δ, crashed, in flight, near misses). */
  journal(): string;
  /** Every idea so far, oldest first; from the `from`-th on when given (new ones since a previous call). */
  history(from?: number): HistoryEntry[];
  /**
   * Checks a change set as the intake will: resolves to its diff against
   * `head`, or throws the refusal (ArswarmError with a `reason`: patch rules,
   * duplicates, near-duplicates). Records nothing.
   */
  check(changes: FileChange[], title: string): Promise<string>;
  /** Reports the tokens of one model request as soon as they are spent. */
  charge(usage: LlmCost): void;
  /** False once this proposer's token or dollar budget is spent: start no further request. */
  withinBudget(): boolean;
  /** Aborted when the proposal is no longer wanted (shutdown, timeout). */
  signal: AbortSignal;
}

/** Tokens and dollars one proposal (or one failed attempt) cost. */
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
  /** The diff against the context's head, when the proposer already made it (ctx.check). */
  diff?: string;
  /** Set by proposers that do not report through ctx.charge. */
  usage?: LlmCost;
}

/** How hard the pool may drive one proposer. */
/** Defaults of a proposer's concurrency and proposal timeout (the pool's slots and the claude client read them). */
export const PROPOSER_LIMIT_DEFAULTS: Readonly<Required<Pick<ProposerLimits, 'concurrency' | 'timeoutMs'>>> =
  {
    /** @default 1 */
    concurrency: 1,
    /** @default 600000 */
    timeoutMs: 600_000,
  };

export interface ProposerLimits {
  /** Proposals in progress at once. @default 1 */
  concurrency?: number;
  /** Wall-clock limit of one proposal, ms. @default 600000 */
  timeoutMs?: number;
  /** Input + output tokens over the swarm's life; 0 = no limit. @default 0 */
  tokens?: number;
  /** US dollars over the swarm's life; 0 = no limit. @default 0 */
  dollars?: number;
  /** Candidates over the swarm's life; 0 = no limit. @default 0 */
  candidates?: number;
}

export interface Proposer {
  /** Recorded as the candidate's proposer. */
  readonly name: string;
  /** Concurrency, timeout and budgets; absent means one at a time, no budget. */
  readonly limits?: ProposerLimits;
  /** Resolves to a proposal, or null when it has nothing new to offer at this head. */
  propose(ctx: ProposalContext): Promise<Proposal | null>;
  /**
   * Asked after propose() resolved to null: why it will never offer anything
   * at this head (every option tried), or undefined when asking again may
   * still find one (it only gave up for now). A bounded run whose proposers
   * are all exhausted ends. @default never exhausted
   */
  exhausted?(head: string): string | undefined;
  /** Releases what it holds (processes, sockets) when the pool closes. */
  close?(): Promise<void>;
}

/** Adds two costs (the model of the later one wins). */
export function addCost(a: LlmCost | undefined, b: LlmCost): LlmCost {
  if (!a) return { ...b };
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    costUsd: a.costUsd + b.costUsd,
    model: b.model || a.model,
  };
}
