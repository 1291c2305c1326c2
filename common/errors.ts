/**
 * One error class for the whole project, with a code aligned to gRPC status
 * codes so errors cross the wire as gRPC statuses without translation tables.
 */

/** gRPC-aligned status codes (same numbers as grpc.status). */
export enum Code {
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** Context carried by an error; every field optional. */
export interface ErrorContext {
  readonly trialId?: string;
  readonly candidateId?: string;
  readonly workerId?: string;
  /** Config path or request field that is wrong, e.g. `stages[1].replicates`. */
  readonly field?: string;
  /** Machine-readable reason, e.g. `locked_file`, `duplicate`. */
  readonly reason?: string;
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
  readonly reason?: string;
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
      return new ArswarmError(err.code as Code, err.details || err.message, {
        cause: err,
        // The server puts the reason and the field in trailing metadata (common/grpc.ts toStatus).
        reason: metadataValue(err, 'arswarm-reason'),
        field: metadataValue(err, 'arswarm-field'),
      });
    if (err instanceof Error) return new ArswarmError(code, err.message, { cause: err });
    return new ArswarmError(code, String(err));
  }

  /** The message plus the hint, for people. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

function isGrpcStatusError(err: unknown): err is Error & { code: number; details: string } {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'number' &&
    typeof (err as { details?: unknown }).details === 'string'
  );
}

/** A string value of a grpc-js error's trailing metadata, read structurally (no grpc import here). */
function metadataValue(err: Error, key: string): string | undefined {
  const md = (err as { metadata?: { get?: (k: string) => unknown[] } }).metadata;
  const v = typeof md?.get === 'function' ? md.get(key)[0] : undefined;
  return typeof v === 'string' && v ? v : undefined;
}
