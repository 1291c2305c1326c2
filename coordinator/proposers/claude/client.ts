/**
 * The Messages API client and cost accounting shared by everything that talks
 * to a model (the claude proposer, the LLM auditor): one way to build the
 * SDK client, one way to turn a response's usage into tokens and dollars.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { Message } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { LLM_CLIENT_DEFAULTS } from '../../../common/llm-client-defaults.js';
import type { LlmCost } from '../proposer.js';

export interface MessagesClientOptions {
  /** Messages API base URL; undefined = https://api.anthropic.com. */
  baseURL?: string;
  /** Gives the API key for each request (from a Secret file or the environment). */
  apiKey: () => Promise<string>;
  /** Per-request timeout, ms (capped at 600000). */
  timeoutMs: number;
}

/** Dollars per million tokens. */
export interface TokenPrice {
  inputPerMtok: number;
  outputPerMtok: number;
}

/** The Messages API base URL: the config's, else ANTHROPIC_BASE_URL, else undefined (the SDK's https://api.anthropic.com). */
export function messagesBaseUrl(configured: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  return configured ?? (env.ANTHROPIC_BASE_URL || undefined);
}

/** An SDK client that never retries on its own and never reads credentials from elsewhere. */
export function messagesClient(o: MessagesClientOptions): Anthropic {
  return new Anthropic({
    apiKey: o.apiKey,
    // null keeps the SDK from reading ANTHROPIC_BASE_URL itself: the edge resolved it already.
    baseURL: o.baseURL ?? null,
    // Retries are ours (withRetry): bounded, logged, and cancelled with the caller.
    maxRetries: 0,
    timeout: Math.min(o.timeoutMs, LLM_CLIENT_DEFAULTS.maxRequestTimeoutMs),
    logLevel: 'off',
  });
}

/** Dollars for a number of tokens at a price. */
export function costUsd(inputTokens: number, outputTokens: number, price: TokenPrice): number {
  return (inputTokens * price.inputPerMtok + outputTokens * price.outputPerMtok) / 1e6;
}

/** Tokens and cost of one response; cache reads and writes count as input (an upper bound). */
export function usageOf(res: Message, price: TokenPrice, model: string): LlmCost {
  const u = res.usage;
  const inputTokens =
    (u?.input_tokens ?? 0) + (u?.cache_creation_input_tokens ?? 0) + (u?.cache_read_input_tokens ?? 0);
  const outputTokens = u?.output_tokens ?? 0;
  return {
    inputTokens,
    outputTokens,
    costUsd: costUsd(inputTokens, outputTokens, price),
    model: res.model || model,
  };
}
