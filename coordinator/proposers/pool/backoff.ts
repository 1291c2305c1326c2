/**
 * When a proposer may try again: after a failure it backs off exponentially
 * (a conversation that ended without a valid idea only pauses briefly), and
 * after having nothing new at a head it rests until the head moves.
 */
import { ArswarmError, Code } from '../../../common/errors.js';
import type { Slot } from './slot.js';
import type { ResolvedPoolOptions } from './types.js';

/** The error of a proposal that ran out of its time. */
export function timeoutError(timeoutMs: number): ArswarmError {
  return new ArswarmError(Code.DeadlineExceeded, `no proposal within ${Math.round(timeoutMs / 1000)} s`, {
    reason: 'timeout',
  });
}

/** Counts a failed proposal on its slot and sets when the proposer may try again. */
export function backOff(s: Slot, e: ArswarmError, now: number, o: ResolvedPoolOptions): void {
  // A conversation that ended without a valid idea (Aborted) says nothing about the
  // service: pause briefly. Anything else (API down, rate limits, timeouts) backs off.
  if (e.code === Code.Aborted) s.retryAt = now + o.contentPauseMs;
  else {
    s.failures++;
    s.retryAt = now + Math.min(o.maxBackoffMs, o.failureBackoffMs * 2 ** (s.failures - 1));
  }
}

/** A proposer with nothing new at `head` rests (until the head moves or the idle backoff ends). */
export function rest(s: Slot, head: string, now: number, o: ResolvedPoolOptions): void {
  s.idleHead = head;
  s.exhausted = s.p.exhausted?.(head);
  s.retryAt = now + o.idleBackoffMs;
}
