/**
 * One error class for the whole project, with a code aligned to gRPC status
 * codes so errors cross the wire as gRPC statuses without translation tables.
 */

import { Code } from './code.js';
import { describeWire, parseWire, wireOf, wireOfGrpcStatus, type WireError } from './error-wire.js';
import type { Reason } from './reasons.js';

export { Code } from './code.js';
export type { Reason } from './reasons.js';

/** Context carried by an error; every field optional. */
export interface ErrorContext {
  readonly trialId?: string;
  readonly candidateId?: string;
  readonly workerId?: string;
  /** Config path or request field that is wrong, e.g. `stages[1].replicates`. */
  readonly field?: string;
  /** Machine-readable reason, e.g. `locked_file`, `duplicate` (common/reasons.ts lists them). */
  readonly reason?: Reason;
  /** A hint for the person reading the error. */
  readonly hint?: string;
}

export interface ArswarmErrorOptions extends ErrorContext {
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

/** The project's error: a code, whether retrying may help, and context. */
export class ArswarmError extends Error {
  override readonly name = 'ArswarmError';
  readonly code: Code;
  readonly retryable: boolean;
  readonly trialId?: string;
  readonly candidateId?: string;
  readonly workerId?: string;
  readonly field?: string;
  readonly reason?: Reason;
  readonly hint?: string;

  constructor(code: Code, message: string, options: ArswarmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? (code === Code.Unavailable || code === Code.DeadlineExceeded);
    this.trialId = options.trialId;
    this.candidateId = options.candidateId;
    this.workerId = options.workerId;
    this.field = options.field;
    this.reason = options.reason;
    this.hint = options.hint;
  }

  /** Wraps anything thrown into an ArswarmError, keeping an existing one as is. */
  static from(err: unknown, code: Code = Code.Unknown): ArswarmError {
    if (err instanceof ArswarmError) return err;
    if (isGrpcStatusError(err))
      // The server sends the reason, field and hint in trailing metadata (common/error-wire.ts).
      return ArswarmError.fromWire(
        wireOfGrpcStatus(err.code, err.details || err.message, (k) => metadataValues(err, k)),
        err,
      );
    if (err instanceof Error) return new ArswarmError(code, err.message, { cause: err });
    return new ArswarmError(code, String(err));
  }

  /** The error as another process receives it (common/error-wire.ts). */
  toWire(): WireError {
    return wireOf(this);
  }

  /** The error a wire form describes; `cause` is what carried it (a gRPC status, a response). */
  static fromWire(w: WireError, cause?: unknown): ArswarmError {
    return new ArswarmError(Code[w.code], w.message, {
      cause,
      reason: w.reason,
      field: w.field,
      hint: w.hint,
      ...w.details,
    });
  }

  /** The message plus the hint, for people. */
  describe(): string {
    return describeWire(this);
  }
}

function isGrpcStatusError(err: unknown): err is Error & { code: number; details: string } {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'number' &&
    typeof (err as { details?: unknown }).details === 'string'
  );
}

/** The values of a grpc-js error's trailing metadata under `key`, read structurally (no grpc import here). */
function metadataValues(err: Error, key: string): unknown[] {
  const md = (err as { metadata?: { get?: (k: string) => unknown[] } }).metadata;
  return typeof md?.get === 'function' ? md.get(key) : [];
}

/** Anything thrown, in its wire form (an unknown error as `fallback`, Internal by default). */
export function toWire(err: unknown, fallback: Code = Code.Internal): WireError {
  return ArswarmError.from(err, fallback).toWire();
}

/**
 * The error a wire form in untrusted JSON describes (an HTTP error body), or
 * an Unknown error quoting it when it is not a wire error.
 */
export function fromWire(v: unknown, cause?: unknown): ArswarmError {
  const w = parseWire(v);
  return w
    ? ArswarmError.fromWire(w, cause)
    : new ArswarmError(Code.Unknown, `not an error: ${JSON.stringify(v)}`, { cause });
}
