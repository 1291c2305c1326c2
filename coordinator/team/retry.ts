/**
 * Bounded retries with exponential backoff, for the swarm's calls to the
 * outside (git pushes of review branches, pull requests, webhooks): a remote
 * that is down for a minute must not lose a notice, one that is gone must
 * not keep a loop busy forever.
 */

import { withDefaults } from '../../common/option-defaults.js';

/** Attempts before giving up. @default 5 */
export const DEFAULT_ATTEMPTS = 5;

/** Defaults of the attempts and the backoff of every retried call to the outside. */
export const RETRY_DEFAULTS: Readonly<Required<Pick<RetryOptions, 'attempts' | 'backoffMs'>>> = {
  attempts: DEFAULT_ATTEMPTS,
  backoffMs: 1000,
};

export interface RetryOptions {
  /** Attempts in all, the first included. @default 5 */
  attempts?: number;
  /** Delay after the first failure; doubles after each. @default 1000 */
  backoffMs?: number;
  /** Called after each failed attempt (attempt counts from 1). */
  onFailure?: (err: unknown, attempt: number, attempts: number) => void;
  /** Whether a failure is worth another attempt. @default every failure */
  retryable?: (err: unknown) => boolean;
}

/** A failure that another attempt cannot fix (a 4xx answer): `retrying` gives up at once. */
export class Permanent extends Error {
  override readonly name = 'Permanent';
}

/**
 * Runs `fn` until it resolves or `attempts` are spent; rejects with the last
 * error. A `Permanent` error, or one `retryable` refuses, ends it at once.
 */
export async function retrying<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const { attempts, backoffMs } = withDefaults(RETRY_DEFAULTS, o);
  for (let i = 1; ; i++) {
    try {
      return await fn(i);
    } catch (err) {
      o.onFailure?.(err, i, attempts);
      const again = !(err instanceof Permanent) && (o.retryable?.(err) ?? true);
      if (!again || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, backoffMs * 2 ** (i - 1)));
    }
  }
}
