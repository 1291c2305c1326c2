/**
 * The one wire form of an error, shared by the gRPC adapter (a status plus
 * trailing metadata), the HTTP gateway (the JSON body), the ledger (refusal
 * and failure facts) and the CLI's printer. The hint and the field travel as
 * fields of their own, never folded into the message, so a client can show
 * the message and the hint apart and branch on the reason.
 *
 * This file knows no error class (common/errors.ts builds ArswarmErrors from
 * it) and no grpc-js (metadata is read and written structurally), so both can
 * import it without a cycle.
 */
import { Code, codeNamed, type CodeName } from './code.js';
import type { Reason } from './reasons.js';

/** Context an error names besides its field. */
export interface WireDetails {
  readonly trialId?: string;
  readonly candidateId?: string;
  readonly workerId?: string;
}

/** An error as it crosses a process boundary. */
export interface WireError {
  /** The code's name, e.g. `InvalidArgument`. */
  readonly code: CodeName;
  readonly message: string;
  readonly reason?: Reason;
  readonly field?: string;
  readonly hint?: string;
  readonly details?: WireDetails;
}

/** What toWire reads: an ArswarmError has all of it. */
export interface WireSource extends WireDetails {
  readonly code: Code;
  readonly message: string;
  readonly reason?: Reason;
  readonly field?: string;
  readonly hint?: string;
}

/** The wire form of an error; empty optional fields are left out. */
export function wireOf(e: WireSource): WireError {
  const details: Record<string, string> = {};
  for (const k of ['trialId', 'candidateId', 'workerId'] as const) if (e[k]) details[k] = e[k];
  return {
    code: (Code[e.code] as CodeName | undefined) ?? 'Unknown',
    message: e.message,
    ...(e.reason ? { reason: e.reason } : {}),
    ...(e.field ? { field: e.field } : {}),
    ...(e.hint ? { hint: e.hint } : {}),
    ...(Object.keys(details).length ? { details } : {}),
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

/**
 * Reads a wire error from untrusted JSON (an HTTP body, a metadata value), or
 * undefined when it is not one. A reason this build does not list is kept as
 * given: a peer of a newer version may know more reasons.
 */
export function parseWire(v: unknown): WireError | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const code = typeof o.code === 'string' ? codeNamed(o.code) : undefined;
  if (code === undefined || typeof o.message !== 'string') return undefined;
  const d = typeof o.details === 'object' && o.details !== null ? (o.details as Record<string, unknown>) : {};
  return wireOf({
    code,
    message: o.message,
    reason: str(o.reason) as Reason | undefined,
    field: str(o.field),
    hint: str(o.hint),
    trialId: str(d.trialId),
    candidateId: str(d.candidateId),
    workerId: str(d.workerId),
  });
}

/** The code a wire error carries. */
export function wireCode(w: WireError): Code {
  return codeNamed(w.code) ?? Code.Unknown;
}

/**
 * Trailing-metadata keys of an error status. The wire error but its message
 * (that is the status details already) goes as UTF-8 JSON under a binary key
 * (a `-bin` value may hold any byte; a plain one only printable ASCII), and
 * the reason and field also as plain keys so grpcurl and other clients that
 * read no JSON still see them. Sending the message once matters: status and
 * trailers share HTTP/2's header size limit (64 KiB), past which the call
 * fails without a status.
 */
export const GRPC_ERROR_KEY = 'arswarm-error-bin';
export const GRPC_REASON_KEY = 'arswarm-reason';
export const GRPC_FIELD_KEY = 'arswarm-field';

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A gRPC status for a wire error: the message alone as details, the rest as metadata entries. */
export function grpcStatusOf(w: WireError): {
  code: number;
  details: string;
  metadata: Array<[string, string | Buffer]>;
} {
  const { message, ...rest } = w;
  const metadata: Array<[string, string | Buffer]> = [
    [GRPC_ERROR_KEY, Buffer.from(JSON.stringify(rest), 'utf8')],
  ];
  if (w.reason && PRINTABLE_ASCII.test(w.reason)) metadata.push([GRPC_REASON_KEY, w.reason]);
  if (w.field && PRINTABLE_ASCII.test(w.field)) metadata.push([GRPC_FIELD_KEY, w.field]);
  return { code: wireCode(w), details: message, metadata };
}

/**
 * The wire error of a gRPC status: the JSON entry when the server sent one,
 * else the code, the details and the plain reason and field keys (a server
 * of an older version, or a status grpc-js made itself, like UNAVAILABLE).
 */
export function wireOfGrpcStatus(code: number, details: string, get: (key: string) => unknown[]): WireError {
  const first = (key: string): unknown => get(key)[0];
  const json = first(GRPC_ERROR_KEY);
  if (json instanceof Uint8Array) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(json).toString('utf8'));
      const w = typeof parsed === 'object' ? parseWire({ ...parsed, message: details }) : undefined;
      // The status code is what the call failed with; the JSON cannot overrule it.
      if (w) return { ...w, code: (Code[code] as CodeName | undefined) ?? w.code };
    } catch {
      // Not JSON: fall through to the plain keys.
    }
  }
  const text = (v: unknown) => (typeof v === 'string' ? str(v) : undefined);
  return wireOf({
    code: (Code[code] === undefined ? Code.Unknown : code) as Code,
    message: details,
    reason: text(first(GRPC_REASON_KEY)) as Reason | undefined,
    field: text(first(GRPC_FIELD_KEY)),
  });
}

/** The error for people: the message, then the hint on its own line. */
export function describeWire(w: Pick<WireError, 'message' | 'hint'>): string {
  return w.hint ? `${w.message}\n  hint: ${w.hint}` : w.message;
}

/**
 * The `code` a ledger fact records for an error (CandidateRefused,
 * ProposerFailed): the reason when there is one, else the code's name.
 */
export function ledgerCode(w: WireError): string {
  return w.reason ?? w.code;
}
