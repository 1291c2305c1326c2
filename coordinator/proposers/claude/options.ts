/**
 * Options of the claude proposer: documented once here, completed once by
 * resolveClaudeProposerOptions(). The defaults a config states are read from
 * the parsed config schema (common/config.ts), the client's from
 * LLM_CLIENT_DEFAULTS, so no value is written twice.
 */
import { claudeProposerSchema, DEFAULT_METRIC } from '../../../common/config.js';
import { LLM_CLIENT_DEFAULTS } from '../../../common/llm-client-defaults.js';
import { withDefaults } from '../../../common/option-defaults.js';
import type { Mode } from '../diversity.js';
import { PROPOSER_LIMIT_DEFAULTS, type ProposerLimits } from '../proposer.js';
import type { TokenPrice } from './client.js';

export interface ClaudeProposerOptions {
  /** Recorded as the candidates' proposer. @default claude */
  name?: string;
  model: string;
  maxTokens: number;
  /** Sent only when set (current models refuse sampling parameters). @default unset */
  temperature?: number;
  /** output_config.effort. @default unset (the model's default) */
  effort?: 'low' | 'medium' | 'high' | 'xhigh' | 'max';
  /** Messages API base URL; undefined = https://api.anthropic.com. */
  baseURL?: string;
  /** Gives the API key for each request (from a Secret file or the environment). */
  apiKey: () => Promise<string>;
  /** Path of the brief in the target repo at the head. @default program.md */
  program?: string;
  /** The brief when the target has none (arswarm's own program.md). @default '' */
  fallbackBrief?: string;
  /** @default '' */
  instructions?: string;
  /** @default 3 */
  maxAttempts?: number;
  /** @default 12 */
  maxTurns?: number;
  /** @default 5 */
  maxRetries?: number;
  /** @default 60000 */
  maxRetryWaitMs?: number;
  /** First backoff without retry-after. @default 500 */
  retryBaseDelayMs?: number;
  /** @default 65536 */
  inlineBytes?: number;
  /** Dollars per million tokens. */
  price: TokenPrice;
  /** @default 1 each */
  modes?: Record<Mode, number>;
  /** Metric name for the prompts. @default val_bpb */
  metric?: string;
  limits?: ProposerLimits;
  /** @default python3 */
  python?: string;
  /** One line per event worth a person's attention. @default nothing */
  log?: (msg: string) => void;
}

/** A config section with every default filled: the source of the defaults below. */
const CONFIG = claudeProposerSchema.parse({ kind: 'claude' });

/** Defaults of the optional fields of ClaudeProposerOptions (the same as a config's). */
export const CLAUDE_PROPOSER_DEFAULTS = {
  /** @default 'claude' */
  name: CONFIG.name,
  /** @default 'program.md' */
  program: CONFIG.program,
  /** @default '' */
  fallbackBrief: '',
  /** @default '' */
  instructions: CONFIG.instructions,
  /** @default 3 */
  maxAttempts: CONFIG.max_attempts,
  /** @default 12 */
  maxTurns: CONFIG.max_turns,
  /** @default 5 */
  maxRetries: LLM_CLIENT_DEFAULTS.maxRetries,
  /** @default 60000 */
  maxRetryWaitMs: LLM_CLIENT_DEFAULTS.maxRetryWaitMs,
  /** @default 500 */
  retryBaseDelayMs: LLM_CLIENT_DEFAULTS.retryBaseDelayMs,
  /** @default 65536 */
  inlineBytes: CONFIG.inline_bytes,
  /** @default 1 each */
  modes: CONFIG.modes as Readonly<Record<Mode, number>>,
  /** The metric a config names when it names none. @default 'val_bpb' */
  metric: DEFAULT_METRIC.name,
  /** @default 'python3' (PythonServer's) */
  python: undefined as string | undefined,
  /** @default nothing */
  log: (() => undefined) as (msg: string) => void,
};

/** Every option present; `requestTimeoutMs` is the SDK client's per-request timeout. */
export type ResolvedClaudeProposerOptions = Omit<
  ClaudeProposerOptions,
  keyof typeof CLAUDE_PROPOSER_DEFAULTS
> &
  typeof CLAUDE_PROPOSER_DEFAULTS & { readonly requestTimeoutMs: number };

/** Fills every default of a claude proposer's options. */
export function resolveClaudeProposerOptions(o: ClaudeProposerOptions): ResolvedClaudeProposerOptions {
  return {
    ...o,
    ...withDefaults(CLAUDE_PROPOSER_DEFAULTS, o),
    // One request may take as long as the whole proposal may.
    requestTimeoutMs: o.limits?.timeoutMs ?? PROPOSER_LIMIT_DEFAULTS.timeoutMs,
  };
}
