/**
 * Retries of Messages API requests: 429 (rate limited), 529 (overloaded),
 * other 5xx and connection errors are retried with exponential backoff and
 * jitter, honouring `retry-after-ms` / `retry-after` (seconds or an HTTP
 * date) up to a cap. Errors are classified by status and class, never by
 * message text, and end as an ArswarmError with a reason.
 */
import { APIConnectionError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { ArswarmError, Code, type Reason } from '../../../common/errors.js';
import { LLM_CLIENT_DEFAULTS } from '../../../common/llm-client-defaults.js';
import { withDefaults } from '../../../common/option-defaults.js';

export interface RetryOptions {
  /** Retries after the first attempt. @default 5 */
  maxRetries?: number;
  /** First backoff when the server names no wait, ms. @default 500 */
  baseDelayMs?: number;
  /** Longest wait, ms; a longer retry-after is cut to this. @default 60000 */
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Called before each wait (for logs and tests). */
  onRetry?: (info: { attempt: number; delayMs: number; error: ArswarmError }) => void;
  /** @default a timer that the signal cancels */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** @default Math.random */
  random?: () => number;
}

/** The numbers and clocks of a retry loop, every one present. */
type RetryPolicy = Required<Omit<RetryOptions, 'signal' | 'onRetry'>>;

function retryPolicy(o: RetryOptions): RetryPolicy {
  return withDefaults<RetryPolicy>(
    {
      maxRetries: LLM_CLIENT_DEFAULTS.maxRetries,
      baseDelayMs: LLM_CLIENT_DEFAULTS.retryBaseDelayMs,
      maxDelayMs: LLM_CLIENT_DEFAULTS.maxRetryWaitMs,
      sleep: abortableSleep,
      random: Math.random,
    },
    o,
  );
}

/** An API error as arswarm sees it. */
export interface ApiFailure {
  error: ArswarmError;
  retryable: boolean;
  /** The wait the server asked for, ms. */
  retryAfterMs?: number;
}

/** The wait a response's headers ask for, ms (undefined when none or unparseable). */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const ra = headers?.get('retry-after');
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra) * 1000;
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Classifies anything the SDK throws. */
export function apiFailure(err: unknown): ApiFailure {
  if (err instanceof ArswarmError) return { error: err, retryable: false };
  if (err instanceof APIUserAbortError)
    return {
      error: new ArswarmError(Code.Cancelled, 'request aborted', { reason: 'aborted' }),
      retryable: false,
    };
  if (err instanceof APIConnectionError)
    return {
      error: new ArswarmError(Code.Unavailable, `Messages API unreachable: ${err.message}`, {
        reason: 'connection',
        cause: err,
      }),
      retryable: true,
    };
  if (err instanceof APIError && typeof err.status === 'number') {
    const s = err.status;
    const detail = err.apiMessage ?? err.type ?? '';
    const msg = `Messages API ${s}${detail ? `: ${detail}` : ''}`;
    const wait = retryAfterMs(err.headers);
    const mk = (code: Code, reason: Reason, retryable: boolean) => ({
      error: new ArswarmError(code, msg, { reason, cause: err, retryable }),
      retryable,
      retryAfterMs: wait,
    });
    if (s === 429) return mk(Code.ResourceExhausted, 'rate_limited', true);
    if (s === 529) return mk(Code.Unavailable, 'overloaded', true);
    if (s >= 500) return mk(Code.Unavailable, 'api_error', true);
    if (s === 401) return mk(Code.Unauthenticated, 'unauthenticated', false);
    if (s === 403) return mk(Code.PermissionDenied, 'permission_denied', false);
    if (s === 404) return mk(Code.NotFound, 'not_found', false);
    if (s === 413) return mk(Code.InvalidArgument, 'request_too_large', false);
    return mk(Code.InvalidArgument, 'bad_request', false);
  }
  return { error: ArswarmError.from(err), retryable: false };
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ArswarmError(Code.Cancelled, 'aborted', { reason: 'aborted' }));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new ArswarmError(Code.Cancelled, 'aborted', { reason: 'aborted' }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The wait before retry number `attempt` (1-based). */
export function backoffMs(attempt: number, failure: ApiFailure, options: RetryOptions = {}): number {
  const p = retryPolicy(options);
  if (failure.retryAfterMs !== undefined) return Math.min(p.maxDelayMs, failure.retryAfterMs);
  const base = p.baseDelayMs * 2 ** (attempt - 1);
  // Up to 25% jitter downwards, as the SDK does, so concurrent conversations spread out.
  return Math.min(p.maxDelayMs, base * (1 - p.random() * 0.25));
}

/** Runs `fn`, retrying retryable API failures; throws the last failure as an ArswarmError. */
export async function withRetry<T>(fn: () => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const { maxRetries, sleep } = retryPolicy(o);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const f = apiFailure(err);
      if (!f.retryable || attempt > maxRetries || o.signal?.aborted) {
        if (f.retryable && attempt > maxRetries)
          throw new ArswarmError(f.error.code, `${f.error.message} (gave up after ${attempt} attempts)`, {
            reason: f.error.reason,
            cause: err,
          });
        throw f.error;
      }
      const delayMs = backoffMs(attempt, f, o);
      o.onRetry?.({ attempt, delayMs, error: f.error });
      await sleep(delayMs, o.signal);
    }
  }
}
