/**
 * Bad ControlService requests against a running coordinator, each with the
 * status it must get: code, and a message naming the problem. Some requests
 * cannot be built with the typed client (a negative uint32, invalid UTF-8, a
 * truncated message), so they go as raw bytes through grpc-js.
 */
import * as grpc from '@grpc/grpc-js';
import type { ControlService } from '../../gen/arswarm/v1/control_pb.js';
import { ArswarmError, Code } from '../../common/errors.js';
import type { ServiceClient } from '../../common/grpc.js';

export type ControlClient = ServiceClient<(typeof ControlService)['method']>;

/** What the cases call with. */
export interface GrpcCaseContext {
  readonly viewer: ControlClient;
  readonly reviewer: ControlClient;
  readonly admin: ControlClient;
  /** A raw unary call of `/arswarm.v1.ControlService/<method>` with the admin token. */
  raw(method: string, body: Uint8Array): Promise<unknown>;
  /** POST /api/<method> on the HTTP gateway with the admin token; the JSON error body on failure. */
  http(method: string, body: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** A candidate that was refused. */
  readonly refusedId: string;
  /** A candidate still climbing the ladder. */
  readonly activeId: string;
  /** A diff the coordinator would accept. */
  readonly goodDiff: string;
}

export interface GrpcCase {
  readonly name: string;
  readonly call: (c: GrpcCaseContext) => Promise<unknown>;
  readonly code: Code;
  readonly message: RegExp;
  /** The field the error names (trailing metadata), when it names one. */
  readonly field?: string;
  readonly reason?: string;
}

/** Protobuf wire encoding of the few fields the raw cases need. */
export const wire = {
  varint(n: bigint): number[] {
    const out: number[] = [];
    let v = BigInt.asUintN(64, n);
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  },
  /** A varint field (as int32 -1 would be written: ten bytes). */
  int(field: number, n: bigint): number[] {
    return [(field << 3) | 0, ...wire.varint(n)];
  },
  /** A length-delimited field. */
  bytes(field: number, b: Uint8Array | number[]): number[] {
    return [(field << 3) | 2, ...wire.varint(BigInt(b.length)), ...b];
  },
};

/** The gateway's JSON error as an ArswarmError whose message starts with the HTTP status. */
function httpError(r: { status: number; body: Record<string, unknown> }): never {
  const code = Code[r.body.code as keyof typeof Code];
  throw new ArswarmError(code ?? Code.Unknown, `HTTP ${r.status}: ${String(r.body.message)}`, {
    field: typeof r.body.field === 'string' ? r.body.field : undefined,
  });
}

const utf8 = (s: string) => [...Buffer.from(s, 'utf8')];
const long = (n: number) => 'x'.repeat(n);

export const GRPC_CASES: readonly GrpcCase[] = [
  {
    name: 'SubmitCandidate without a diff',
    call: (c) => c.reviewer.submitCandidate({ title: 'no diff here' }),
    code: Code.InvalidArgument,
    message: /the diff is empty/,
    field: 'diff',
    reason: 'empty',
  },
  {
    name: 'SubmitCandidate without a title',
    call: (c) => c.reviewer.submitCandidate({ diff: c.goodDiff, title: '  ' }),
    code: Code.InvalidArgument,
    message: /a candidate needs a title/,
    field: 'title',
    reason: 'missing_title',
  },
  {
    name: 'SubmitCandidate with a 201-character title',
    call: (c) => c.reviewer.submitCandidate({ diff: c.goodDiff, title: long(201) }),
    code: Code.InvalidArgument,
    message: /title is longer than 200 characters/,
    field: 'title',
  },
  {
    name: 'SubmitCandidate with a 5 MB diff (over the message limit)',
    call: (c) => c.reviewer.submitCandidate({ diff: long(5 * 1024 * 1024), title: 'huge' }),
    code: Code.ResourceExhausted,
    message: /larger than max/,
  },
  {
    name: 'SubmitCandidate with invalid UTF-8 in the diff',
    call: (c) =>
      c.raw(
        'SubmitCandidate',
        Uint8Array.from([...wire.bytes(1, [0x2d, 0xff, 0xfe]), ...wire.bytes(2, utf8('t'))]),
      ),
    code: Code.InvalidArgument,
    message: /malformed arswarm\.v1\.SubmitCandidateRequest: .*utf-8/i,
    reason: 'malformed_request',
  },
  {
    name: 'SubmitCandidate as truncated protobuf',
    call: (c) => c.raw('SubmitCandidate', Uint8Array.from([0x0a, 50, 0x2d])),
    code: Code.InvalidArgument,
    message: /malformed arswarm\.v1\.SubmitCandidateRequest: premature EOF/,
    reason: 'malformed_request',
  },
  {
    name: 'GetCandidate without an id',
    call: (c) => c.viewer.getCandidate({}),
    code: Code.InvalidArgument,
    message: /id is required/,
    field: 'id',
  },
  {
    name: 'GetCandidate with an unknown id',
    call: (c) => c.viewer.getCandidate({ id: 'c99999' }),
    code: Code.NotFound,
    message: /no candidate "c99999"/,
    field: 'id',
  },
  {
    name: 'GetTrialLog without a trial id',
    call: (c) => c.viewer.getTrialLog({}),
    code: Code.InvalidArgument,
    message: /trial_id is required/,
    field: 'trial_id',
  },
  {
    name: 'GetTrialLog with an unknown trial id',
    call: (c) => c.viewer.getTrialLog({ trialId: 'c99999.screen.0000000.r0.a0' }),
    code: Code.NotFound,
    message: /no trial "c99999\.screen\.0000000\.r0\.a0"/,
    field: 'trial_id',
  },
  {
    name: 'Approve an unknown candidate',
    call: (c) => c.reviewer.approve({ id: 'c99999' }),
    code: Code.NotFound,
    message: /no candidate "c99999"/,
  },
  {
    name: 'Approve a refused candidate (not in review)',
    call: (c) => c.reviewer.approve({ id: c.refusedId }),
    code: Code.FailedPrecondition,
    message: /c\d{5} is refused, not waiting for review/,
    reason: 'not_in_review',
  },
  {
    name: 'Approve a candidate still on the ladder (not in review)',
    call: (c) => c.reviewer.approve({ id: c.activeId, note: 'looks fine' }),
    code: Code.FailedPrecondition,
    message: /c\d{5} is active, not waiting for review/,
    reason: 'not_in_review',
  },
  {
    name: 'Reject a candidate still on the ladder (not in review)',
    call: (c) => c.admin.reject({ id: c.activeId }),
    code: Code.FailedPrecondition,
    message: /is active, not waiting for review/,
  },
  {
    name: 'Approve with a 4001-character note',
    call: (c) => c.reviewer.approve({ id: c.activeId, note: long(4001) }),
    code: Code.InvalidArgument,
    message: /note is longer than 4000 characters/,
    field: 'note',
  },
  {
    name: 'ListCandidates with a page token that is not one',
    call: (c) => c.viewer.listCandidates({ pageToken: 'x' }),
    code: Code.InvalidArgument,
    message: /bad page_token "x"/,
    field: 'page_token',
  },
  {
    name: 'ListCandidates with a negative page token',
    call: (c) => c.viewer.listCandidates({ pageToken: '-5' }),
    code: Code.InvalidArgument,
    message: /bad page_token "-5"/,
    field: 'page_token',
  },
  {
    name: 'ListCandidates with an unknown stage',
    call: (c) => c.viewer.listCandidates({ stage: 'nope' }),
    code: Code.InvalidArgument,
    message: /unknown stage "nope" \(stages: screen, confirm, scale\)/,
    field: 'stage',
  },
  {
    name: 'SetWorkers to a negative count (-1 on the wire)',
    call: (c) => c.raw('SetWorkers', Uint8Array.from(wire.int(1, -1n))),
    code: Code.InvalidArgument,
    message: /workers must be an integer from 0 to 256/,
    field: 'replicas',
  },
  {
    name: 'SetWorkers on an unknown pool',
    call: (c) => c.admin.setWorkers({ replicas: 1, pool: 'gpu-h100' }),
    code: Code.NotFound,
    message: /no worker pool "gpu-h100"/,
    field: 'pool',
  },
  {
    name: 'Pause with a 4001-character reason',
    call: (c) => c.admin.pause({ reason: long(4001) }),
    code: Code.InvalidArgument,
    message: /reason is longer than 4000 characters/,
    field: 'reason',
  },
  {
    name: 'a method the service does not have',
    call: (c) => c.raw('DropLedger', new Uint8Array()),
    code: Code.Unimplemented,
    message: /DropLedger/,
  },
  {
    name: 'SetWorkers to a negative count over the HTTP gateway',
    call: async (c) => httpError(await c.http('SetWorkers', '{"replicas": -1}')),
    code: Code.InvalidArgument,
    message: /^HTTP 400: bad SetWorkersRequest: .*replicas.*-1/,
  },
  {
    name: 'a request body that is not JSON over the HTTP gateway',
    call: async (c) => httpError(await c.http('GetCandidate', '{"id": ')),
    code: Code.InvalidArgument,
    message: /^HTTP 400: request body is not JSON/,
  },
];

/** A raw unary call: bytes in, bytes out, errors as ArswarmError (reason and field from the trailers). */
export function rawCall(
  client: grpc.Client,
  token: string,
  method: string,
  body: Uint8Array,
): Promise<Buffer> {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return new Promise((ok, fail) =>
    client.makeUnaryRequest(
      `/arswarm.v1.ControlService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      md,
      { deadline: Date.now() + 15_000 },
      (err, res) => (err ? fail(ArswarmError.from(err)) : ok(res!)),
    ),
  );
}
