/**
 * Whether an error is NATS being unreachable (a timeout, a lost or closed
 * connection, no responders, or a deadline/unavailable error wrapping one)
 * rather than something about the thing being processed. The scheduler's tick
 * goes on past one candidate's failure, but not past these: every candidate
 * after it would fail the same way, each after its own timeout.
 */
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { ArswarmError, Code } from '../common/errors.js';

const TRANSPORT = [
  TimeoutError,
  ConnectionError,
  ClosedConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
];

export function isTransportFailure(err: unknown): boolean {
  // The cause chain, bounded (a cycle must not hang the scheduler).
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (TRANSPORT.some((k) => e instanceof k)) return true;
    if (e instanceof ArswarmError && (e.code === Code.Unavailable || e.code === Code.DeadlineExceeded))
      return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
