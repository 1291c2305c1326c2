/**
 * The `auditor:` section of `arswarm.yaml`: an optional LLM that reads the
 * diff, title, hypothesis and evidence of every candidate that passed the top
 * stage and may flag suspected gaming (the rule-based audit always runs).
 */
import { z } from 'zod';
import { LLM_CLIENT_DEFAULTS } from './llm-client-defaults.js';

/** The retry fields of every Messages API client's config (the claude proposer's and the auditor's). */
export const llmRetryFields = {
  /** Retries of one request on 429, 529, other 5xx and connection errors. @default 5 */
  max_retries: z.number().int().min(0).max(20).default(LLM_CLIENT_DEFAULTS.maxRetries),
  /** Longest wait before a retry, in seconds (a longer retry-after is cut to this). @default 60 */
  max_retry_wait_seconds: z
    .number()
    .min(0)
    .max(3600)
    .default(LLM_CLIENT_DEFAULTS.maxRetryWaitMs / 1000),
};

/** Price of the auditor's model, dollars per million tokens. */
const auditorPriceSchema = z
  .object({
    /** @default 2 */
    input_per_mtok: z.number().min(0).default(LLM_CLIENT_DEFAULTS.price.inputPerMtok),
    /** @default 10 */
    output_per_mtok: z.number().min(0).default(LLM_CLIENT_DEFAULTS.price.outputPerMtok),
  })
  .strict();

/** What the auditor may spend over the swarm's life; 0 means no limit. */
const auditorBudgetSchema = z
  .object({
    /** Input plus output tokens. @default 0 (no limit) */
    tokens: z.number().int().min(0).default(0),
    /** US dollars, priced with `price`. @default 0 (no limit) */
    dollars: z.number().min(0).default(0),
  })
  .strict();

export const auditorSchema = z
  .object({
    kind: z.literal('claude'),
    /** Messages API model. @default claude-sonnet-5-5 */
    model: z.string().min(1).default(LLM_CLIENT_DEFAULTS.model),
    /** Most output tokens per request. @default 4000 */
    max_tokens: z.number().int().min(256).max(20_000).default(4000),
    /** @default ANTHROPIC_BASE_URL, else https://api.anthropic.com */
    base_url: z.url().optional(),
    /** File holding the API key (a mounted Secret). @default none: ANTHROPIC_API_KEY */
    api_key_file: z.string().min(1).optional(),
    /** Appended to the auditor's system prompt. @default '' */
    instructions: z.string().max(20_000).default(''),
    /** Answers that fail validation before the audit counts as failed. @default 3 */
    max_attempts: z.number().int().min(1).max(10).default(3),
    ...llmRetryFields,
    /** Wall-clock limit of one audit, seconds. @default 300 */
    timeout_seconds: z.number().int().min(1).max(86_400).default(300),
    budget: auditorBudgetSchema.default({ tokens: 0, dollars: 0 }),
    price: auditorPriceSchema.default(auditorPriceSchema.parse({})),
  })
  .strict();

export type AuditorConfig = z.infer<typeof auditorSchema>;
