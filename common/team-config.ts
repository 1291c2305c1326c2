/**
 * The `review` and `notify` sections of `arswarm.yaml`: how a team reviews
 * where it already reviews (a git branch per candidate waiting for review,
 * optionally a pull request) and hears about the swarm (webhooks).
 */
import { z } from 'zod';

/** Events a webhook may subscribe to. */
export const NOTICE_KINDS = ['review_waiting', 'merged', 'stalled', 'budget_exhausted'] as const;

export const pullRequestsSchema = z
  .object({
    /** The git host API; only GitHub's REST API (and GitHub Enterprise) is spoken. */
    kind: z.literal('github'),
    /** Base URL of the REST API. @default https://api.github.com */
    api_url: z.string().url().default('https://api.github.com'),
    /** `owner/name` of the repository `swarm.push_remote` points at. */
    repo: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/name'),
    /** A file holding the API token (a mounted Secret), relative to the config. */
    token_file: z.string().min(1),
    /** The branch pull requests target. @default swarm.branch */
    base: z.string().min(1).optional(),
  })
  .strict();

export const reviewSchema = z
  .object({
    /**
     * Create `arswarm/review/<candidate id>` (the candidate's diff on its
     * parent, one commit with the merge message) for every candidate that
     * waits for a person, and push it to `swarm.push_remote` when set.
     * @default false
     */
    branches: z.boolean().default(false),
    /** Open a pull request per review branch (implies `branches`). @default none */
    pull_requests: pullRequestsSchema.optional(),
  })
  .strict();

export const webhookSchema = z
  .object({
    /** Where notices are POSTed. */
    url: z.string().url(),
    /** `json` (the notice as is) or `slack` (`{text, blocks}`, for an incoming webhook). @default json */
    format: z.enum(['json', 'slack']).default('json'),
    /** Which notices go to this URL. @default every kind */
    events: z
      .array(z.enum(NOTICE_KINDS))
      .min(1)
      .default([...NOTICE_KINDS]),
    /** A file holding a secret: each POST carries `X-Arswarm-Signature: sha256=<HMAC of the body>`. @default none */
    secret_file: z.string().min(1).optional(),
  })
  .strict();

export const notifySchema = z
  .object({
    /** @default [] */
    webhooks: z.array(webhookSchema).default([]),
  })
  .strict();

export type NoticeKind = (typeof NOTICE_KINDS)[number];
export type ReviewConfig = z.infer<typeof reviewSchema>;
export type PullRequestsConfig = z.infer<typeof pullRequestsSchema>;
export type WebhookConfig = z.infer<typeof webhookSchema>;
export type NotifyConfig = z.infer<typeof notifySchema>;
