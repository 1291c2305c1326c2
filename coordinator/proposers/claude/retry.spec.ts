import { APIConnectionError, APIError } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { ArswarmError, Code } from '../../../common/errors.js';
import { apiFailure, backoffMs, retryAfterMs, withRetry } from './retry.js';

const apiError = (status: number, headers: Record<string, string> = {}) =>
  APIError.generate(
    status,
    { type: 'error', error: { type: 'x', message: 'm' } },
    undefined,
    new Headers(headers),
  );

describe('retry', () => {
  it('reads retry-after in seconds, as a date, and retry-after-ms', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '150', 'retry-after': '9' }))).toBe(150);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });

  it('classifies by status: 429, 529 and 5xx retry; 4xx do not', () => {
    expect(apiFailure(apiError(429))).toMatchObject({
      retryable: true,
      error: { reason: 'rate_limited', code: Code.ResourceExhausted },
    });
    expect(apiFailure(apiError(529))).toMatchObject({ retryable: true, error: { reason: 'overloaded' } });
    expect(apiFailure(apiError(503))).toMatchObject({ retryable: true, error: { reason: 'api_error' } });
    expect(apiFailure(apiError(400))).toMatchObject({ retryable: false, error: { reason: 'bad_request' } });
    expect(apiFailure(apiError(401))).toMatchObject({
      retryable: false,
      error: { code: Code.Unauthenticated },
    });
    expect(apiFailure(new APIConnectionError({ message: 'down' }))).toMatchObject({
      retryable: true,
      error: { reason: 'connection' },
    });
  });

  it('waits what the server asks (capped), else backs off exponentially', () => {
    const f = apiFailure(apiError(429, { 'retry-after': '5' }));
    expect(backoffMs(1, f)).toBe(5000);
    expect(backoffMs(1, f, { maxDelayMs: 1000 })).toBe(1000);
    const g = apiFailure(apiError(500));
    expect(backoffMs(1, g, { random: () => 0 })).toBe(500);
    expect(backoffMs(3, g, { random: () => 0 })).toBe(2000);
    expect(backoffMs(3, g, { random: () => 1 })).toBe(1500);
  });

  it('retries until success, and gives up with the reason after maxRetries', async () => {
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    let n = 0;
    const ok = await withRetry(
      async () => {
        if (n++ < 2) throw apiError(529, { 'retry-after': '1' });
        return 'done';
      },
      { sleep },
    );
    expect(ok).toBe('done');
    expect(waits).toEqual([1000, 1000]);
    const err = await withRetry(() => Promise.reject(apiError(429)), {
      sleep,
      maxRetries: 2,
      random: () => 0,
    }).catch((e: unknown) => e as ArswarmError);
    expect(err).toBeInstanceOf(ArswarmError);
    expect(err.reason).toBe('rate_limited');
    expect(err.message).toMatch(/gave up after 3 attempts/);
    let calls = 0;
    await withRetry(
      () => {
        calls++;
        return Promise.reject(apiError(400));
      },
      { sleep },
    ).catch(() => undefined);
    expect(calls).toBe(1);
  });
});
