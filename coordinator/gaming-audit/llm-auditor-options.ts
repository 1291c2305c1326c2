/**
 * Options of the LLM auditor: documented once here, completed once by
 * resolveLlmAuditorOptions(). The defaults an `auditor:` config section states
 * come from its parsed schema (common/auditor-config.ts), the client's from
 * LLM_CLIENT_DEFAULTS (the same SDK client and retry loop as the claude proposer).
 */
import { auditorSchema } from '../../common/auditor-config.js';
import { LLM_CLIENT_DEFAULTS } from '../../common/llm-client-defaults.js';
import { withDefaults } from '../../common/option-defaults.js';
import type { TokenPrice } from '../proposers/claude/client.js';

export interface LlmAuditorOptions {
  model: string;
  maxTokens: number;
  baseURL?: string;
  apiKey: () => Promise<string>;
  price: TokenPrice;
  /** Appended to the system prompt. @default '' */
  instructions?: string;
  /** Answers that fail validation before the audit fails. @default 3 */
  maxAttempts?: number;
  /** @default 5 */
  maxRetries?: number;
  /** @default 60000 */
  maxRetryWaitMs?: number;
  /** @default 500 */
  retryBaseDelayMs?: number;
  /** One audit's wall-clock limit, ms. @default 300000 */
  timeoutMs?: number;
}

/** An `auditor:` section with every default filled: the source of the defaults below. */
const CONFIG = auditorSchema.parse({ kind: 'claude' });

/** Defaults of the optional fields of LlmAuditorOptions (the same as a config's). */
export const LLM_AUDITOR_DEFAULTS = {
  /** @default '' */
  instructions: CONFIG.instructions,
  /** @default 3 */
  maxAttempts: CONFIG.max_attempts,
  /** @default 5 */
  maxRetries: LLM_CLIENT_DEFAULTS.maxRetries,
  /** @default 60000 */
  maxRetryWaitMs: LLM_CLIENT_DEFAULTS.maxRetryWaitMs,
  /** @default 500 */
  retryBaseDelayMs: LLM_CLIENT_DEFAULTS.retryBaseDelayMs,
  /** @default 300000 */
  timeoutMs: CONFIG.timeout_seconds * 1000,
};

/** Every option present. */
export type ResolvedLlmAuditorOptions = Omit<LlmAuditorOptions, keyof typeof LLM_AUDITOR_DEFAULTS> &
  typeof LLM_AUDITOR_DEFAULTS;

/** Fills every default of the LLM auditor's options. */
export function resolveLlmAuditorOptions(o: LlmAuditorOptions): ResolvedLlmAuditorOptions {
  return { ...o, ...withDefaults(LLM_AUDITOR_DEFAULTS, o) };
}
