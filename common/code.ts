/**
 * gRPC-aligned status codes (same numbers as grpc.status), in their own file
 * so the reason table (common/reasons.ts) and the error wire format
 * (common/error-wire.ts) can use them without importing the error class.
 * common/errors.ts re-exports Code: import it from there.
 */
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

/** A code's name, as the HTTP gateway and the ledger write it (`InvalidArgument`). */
export type CodeName = keyof typeof Code;

/** The code named `name`, or undefined for a name this build does not know. */
export function codeNamed(name: string): Code | undefined {
  const v = (Code as unknown as Record<string, unknown>)[name];
  return typeof v === 'number' ? (v as Code) : undefined;
}
