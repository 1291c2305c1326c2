/**
 * A small JSON gateway for the browser over the same ControlService
 * implementation as gRPC: `POST /api/<Method>` with a protobuf-JSON body, and
 * `GET /api/events` as server-sent events for WatchEvents. The bearer token
 * comes in the `authorization` header, as over gRPC (never in the URL).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { create, fromJson, toJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import { Metadata } from '@grpc/grpc-js';
import { ControlService, WatchEventsRequestSchema } from '../../gen/arswarm/v1/control_pb.js';
import { EventSchema } from '../../gen/arswarm/v1/event_pb.js';
import { ArswarmError, Code, toWire } from '../../common/errors.js';
import { wireCode } from '../../common/error-wire.js';
import type { CallContext } from '../../common/grpc.js';
import type { Authenticator } from './auth.js';
import type { ControlImpl } from './control-service.js';

/** Largest JSON body accepted, in bytes. @default 16 MiB */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** A comment line keeps idle event streams open through proxies. @default 15000 */
export const SSE_KEEPALIVE_MS = 15_000;

/** HTTP statuses for error codes (as Connect maps them). */
const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.Cancelled]: 499,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Unavailable]: 503,
  [Code.Unauthenticated]: 401,
};

const byName = new Map(ControlService.methods.map((m) => [m.name, m]));

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Writes an error as its wire form (common/error-wire.ts), `{code, message,
 * reason?, field?, hint?, details?}`, with the matching HTTP status.
 */
export function sendError(res: ServerResponse, err: unknown): void {
  const w = toWire(err, Code.Internal);
  send(res, HTTP_STATUS[wireCode(w)] ?? 500, w);
}

function contextOf(req: IncomingMessage): { ctx: CallContext; abort: () => void } {
  const md = new Metadata();
  if (req.headers.authorization) md.set('authorization', req.headers.authorization);
  const ac = new AbortController();
  return {
    ctx: { metadata: md, signal: ac.signal, peer: `${req.socket.remoteAddress}:${req.socket.remotePort}` },
    abort: () => ac.abort(),
  };
}

async function readJson(req: IncomingMessage): Promise<JsonValue> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY_BYTES)
      throw new ArswarmError(Code.ResourceExhausted, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new ArswarmError(Code.InvalidArgument, 'request body is not JSON');
  }
}

function parse(desc: DescMessage, json: JsonValue) {
  try {
    return fromJson(desc, json);
  } catch (err) {
    throw new ArswarmError(Code.InvalidArgument, `bad ${desc.name}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** `POST /api/<Method>`: one unary call. */
export async function handleUnary(
  impl: ControlImpl,
  method: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const m = byName.get(method);
  if (!m || m.methodKind !== 'unary')
    return sendError(res, new ArswarmError(Code.NotFound, `no unary method ${method}`));
  if (req.method !== 'POST')
    return sendError(res, new ArswarmError(Code.InvalidArgument, `use POST for ${method}`));
  const { ctx, abort } = contextOf(req);
  res.once('close', abort);
  try {
    const input = parse(m.input, await readJson(req));
    const fn = (impl as unknown as Record<string, (r: unknown, c: CallContext) => Promise<unknown>>)[
      m.localName
    ]!;
    const out = await fn(input, ctx);
    send(res, 200, toJson(m.output, create(m.output, out as never)));
  } catch (err) {
    sendError(res, err);
  }
}

/** `GET /api/events?from_seq=N` (or a `Last-Event-ID` header): WatchEvents as server-sent events. */
export async function handleEvents(
  impl: ControlImpl,
  auth: Authenticator,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const last = req.headers['last-event-id'];
  const param = url.searchParams.get('from_seq');
  let fromSeq = 0n;
  if (param && /^\d+$/.test(param)) fromSeq = BigInt(param);
  else if (typeof last === 'string' && /^\d+$/.test(last)) fromSeq = BigInt(last) + 1n;
  const { ctx, abort } = contextOf(req);
  try {
    // Checked before the stream starts, so a refusal is a plain JSON error with its status.
    auth.authorize(req.headers.authorization, 'watchEvents');
  } catch (err) {
    return sendError(res, err);
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(': arswarm events\n\n');
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
  res.once('close', () => {
    abort();
    clearInterval(keepalive);
  });
  try {
    for await (const ev of impl.watchEvents(create(WatchEventsRequestSchema, { fromSeq }), ctx))
      res.write(
        `id: ${ev.seq}\nevent: event\ndata: ${JSON.stringify(toJson(EventSchema, create(EventSchema, ev)))}\n\n`,
      );
  } catch (err) {
    if (!ctx.signal.aborted)
      // The same wire form as a JSON error body, so a client reads one shape.
      res.write(`event: error\ndata: ${JSON.stringify(toWire(err))}\n\n`);
  } finally {
    clearInterval(keepalive);
    res.end();
  }
}
