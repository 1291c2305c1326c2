/**
 * Defaults of every Messages API client arswarm runs (the claude proposer and
 * the LLM auditor share one SDK client and one retry loop), stated once: the
 * config schemas, the retry loop and both components' resolved options read
 * them from here.
 */

/** Dollars per million tokens. */
export interface LlmPrice {
  readonly inputPerMtok: number;
  readonly outputPerMtok: number;
}

export interface LlmClientDefaults {
  /** Messages API model. @default 'claude-sonnet-5-5' */
  readonly model: string;
  /** Price of `model`, for the recorded cost. @default 2 / 10 dollars per million input / output tokens */
  readonly price: LlmPrice;
  /** Retries of one request on 429, 529, other 5xx and connection errors. @default 5 */
  readonly maxRetries: number;
  /** Longest wait before a retry, ms (a longer retry-after is cut to this). @default 60000 */
  readonly maxRetryWaitMs: number;
  /** First backoff when the server names no wait, ms (doubled per retry). @default 500 */
  readonly retryBaseDelayMs: number;
  /** The SDK's longest per-request timeout without streaming, ms: longer limits are cut to this. @default 600000 */
  readonly maxRequestTimeoutMs: number;
}

export const LLM_CLIENT_DEFAULTS: LlmClientDefaults = {
  model: 'claude-sonnet-5-5',
  price: { inputPerMtok: 2, outputPerMtok: 10 },
  maxRetries: 5,
  maxRetryWaitMs: 60_000,
  retryBaseDelayMs: 500,
  maxRequestTimeoutMs: 600_000,
};
