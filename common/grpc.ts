/**
 * One small generic adapter between protobuf-es service descriptors and
 * @grpc/grpc-js: a grpc-js ServiceDefinition derived from the descriptor
 * (path `/<package.Service>/<Method>`, binary protobuf), typed server
 * handlers, and a typed client. Errors cross as gRPC statuses.
 */
import * as grpc from '@grpc/grpc-js';
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import { ArswarmError, Code, toWire } from './errors.js';
import { grpcStatusOf } from './error-wire.js';

/** Per-call context handed to handlers. */
export interface CallContext {
  readonly metadata: grpc.Metadata;
  readonly signal: AbortSignal;
  readonly peer: string;
}

type Handler<M> = M extends {
  methodKind: 'unary';
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? (req: MessageShape<I>, ctx: CallContext) => Promise<MessageInitShape<O>>
  : M extends {
        methodKind: 'server_streaming';
        input: infer I extends DescMessage;
        output: infer O extends DescMessage;
      }
    ? (req: MessageShape<I>, ctx: CallContext) => AsyncIterable<MessageInitShape<O>>
    : never;

/** The implementation of a service: one function per method. */
export type ServiceImpl<S extends GenServiceMethods> = { [K in keyof S]: Handler<S[K]> };

type ClientMethod<M> = M extends {
  methodKind: 'unary';
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? (req: MessageInitShape<I>, opts?: CallOptions) => Promise<MessageShape<O>>
  : M extends {
        methodKind: 'server_streaming';
        input: infer I extends DescMessage;
        output: infer O extends DescMessage;
      }
    ? (req: MessageInitShape<I>, opts?: CallOptions) => AsyncIterable<MessageShape<O>>
    : never;

/** A typed client: one function per method. */
export type ServiceClient<S extends GenServiceMethods> = { [K in keyof S]: ClientMethod<S[K]> } & {
  close(): void;
};

export interface CallOptions {
  /** Per-call deadline in milliseconds. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function methodPath(service: GenService<GenServiceMethods>, m: DescMethod): string {
  return `/${service.typeName}/${m.name}`;
}

function serializer(desc: DescMessage) {
  return (msg: unknown) => Buffer.from(toBinary(desc, create(desc, msg as MessageInitShape<DescMessage>)));
}

function deserializer(desc: DescMessage) {
  return (buf: Buffer) => fromBinary(desc, buf);
}

/**
 * A request that did not decode (invalid UTF-8 in a string, truncated bytes).
 * grpc-js answers a throwing deserializer with a bare INTERNAL status; handing
 * this marker to the handler instead lets the caller hear InvalidArgument and why.
 */
class MalformedRequest {
  constructor(readonly error: ArswarmError) {}
}

function requestDeserializer(desc: DescMessage) {
  return (buf: Buffer): unknown => {
    try {
      return fromBinary(desc, buf);
    } catch (err) {
      return new MalformedRequest(
        new ArswarmError(
          Code.InvalidArgument,
          `malformed ${desc.typeName}: ${err instanceof Error ? err.message : String(err)}`,
          { reason: 'malformed_request', cause: err },
        ),
      );
    }
  };
}

/** The request, or a throw when it did not decode. */
function decoded(request: unknown): unknown {
  if (request instanceof MalformedRequest) throw request.error;
  return request;
}

/**
 * Converts anything thrown by a handler into a grpc status object: the message
 * as details, the reason, field and hint as trailing metadata (common/error-wire.ts).
 */
export function toStatus(err: unknown): Partial<grpc.StatusObject> & { code: grpc.status } {
  const s = grpcStatusOf(toWire(err, Code.Internal));
  const md = new grpc.Metadata();
  for (const [k, v] of s.metadata) md.set(k, v);
  return { code: s.code as grpc.status, details: s.details, metadata: md };
}

/** A ServiceDefinition for grpc-js derived from a protobuf-es descriptor. */
export function serviceDefinition<S extends GenServiceMethods>(
  service: GenService<S>,
): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) {
    def[m.localName] = {
      path: methodPath(service as GenService<GenServiceMethods>, m),
      requestStream: m.methodKind === 'client_streaming' || m.methodKind === 'bidi_streaming',
      responseStream: m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming',
      requestSerialize: serializer(m.input),
      requestDeserialize: requestDeserializer(m.input),
      responseSerialize: serializer(m.output),
      responseDeserialize: deserializer(m.output),
    };
  }
  return def;
}

/** Wraps typed handlers as grpc-js handlers. */
export function serviceHandlers<S extends GenServiceMethods>(
  service: GenService<S>,
  impl: ServiceImpl<S>,
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const m of service.methods) {
    const fn = (impl as Record<string, unknown>)[m.localName] as (req: unknown, ctx: CallContext) => unknown;
    if (m.methodKind === 'unary') {
      out[m.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const ac = new AbortController();
        call.on('cancelled', () => ac.abort());
        const ctx: CallContext = { metadata: call.metadata, signal: ac.signal, peer: call.getPeer() };
        Promise.resolve()
          .then(() => fn(decoded(call.request), ctx))
          .then(
            (res) => cb(null, res),
            (err: unknown) => cb(toStatus(err)),
          );
      };
    } else if (m.methodKind === 'server_streaming') {
      out[m.localName] = (call: grpc.ServerWritableStream<unknown, unknown>) => {
        const ac = new AbortController();
        call.on('cancelled', () => ac.abort());
        const ctx: CallContext = { metadata: call.metadata, signal: ac.signal, peer: call.getPeer() };
        void (async () => {
          try {
            for await (const item of fn(decoded(call.request), ctx) as AsyncIterable<unknown>) {
              if (ac.signal.aborted) break;
              if (!call.write(item)) await new Promise((r) => call.once('drain', r));
            }
            call.end();
          } catch (err) {
            // grpc-js turns an 'error' event into the call's final status; destroy() would end the
            // stream without any status and leave the client waiting for its deadline.
            if (!ac.signal.aborted)
              call.emit('error', Object.assign(new Error('handler failed'), toStatus(err)));
          }
        })();
      };
    } else {
      throw new ArswarmError(Code.Unimplemented, `${m.methodKind} methods are not supported`);
    }
  }
  return out;
}

export interface ClientOptions {
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** TLS root certificate (PEM); plaintext when absent. */
  rootCert?: Buffer;
  /** Default deadline for unary calls (a call's own `timeoutMs` overrides it). @default 30000 */
  timeoutMs?: number;
}

/** Default of ClientOptions.timeoutMs. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/** A typed client for a service at `address` (host:port). */
export function createClient<S extends GenServiceMethods>(
  service: GenService<S>,
  address: string,
  options: ClientOptions = {},
): ServiceClient<S> {
  const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(service), service.name);
  const creds = options.rootCert
    ? grpc.credentials.createSsl(options.rootCert)
    : grpc.credentials.createInsecure();
  const client = new Ctor(address, creds, { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const callTimeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const md = () => {
    const m = new grpc.Metadata();
    if (options.token) m.set('authorization', `Bearer ${options.token}`);
    return m;
  };
  const out: Record<string, unknown> = { close: () => client.close() };
  for (const m of service.methods) {
    const raw = (client as unknown as Record<string, (...a: unknown[]) => unknown>)[m.localName]!.bind(
      client,
    );
    if (m.methodKind === 'unary') {
      out[m.localName] = (req: unknown, opts: CallOptions = {}) =>
        new Promise((ok, fail) => {
          const deadline = Date.now() + (opts.timeoutMs ?? callTimeoutMs);
          const call = raw(req, md(), { deadline }, (err: grpc.ServiceError | null, res: unknown) =>
            err ? fail(ArswarmError.from(err)) : ok(res),
          ) as grpc.ClientUnaryCall;
          opts.signal?.addEventListener('abort', () => call.cancel());
        });
    } else if (m.methodKind === 'server_streaming') {
      out[m.localName] = (req: unknown, opts: CallOptions = {}) => ({
        async *[Symbol.asyncIterator]() {
          const callOpts = opts.timeoutMs ? { deadline: Date.now() + opts.timeoutMs } : {};
          const call = raw(req, md(), callOpts) as grpc.ClientReadableStream<unknown>;
          opts.signal?.addEventListener('abort', () => call.cancel());
          try {
            for await (const item of call) yield item;
          } catch (err) {
            if ((err as grpc.ServiceError).code === grpc.status.CANCELLED && opts.signal?.aborted) return;
            throw ArswarmError.from(err);
          } finally {
            call.cancel();
          }
        },
      });
    }
  }
  return out as ServiceClient<S>;
}

/** Starts a grpc-js server on host:port (0 = free port) and resolves the bound port. */
export async function listen(
  server: grpc.Server,
  host: string,
  port: number,
  creds?: grpc.ServerCredentials,
): Promise<number> {
  return new Promise((ok, fail) =>
    server.bindAsync(`${host}:${port}`, creds ?? grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err
        ? fail(
            new ArswarmError(Code.Unavailable, `cannot listen on ${host}:${port}: ${err.message}`, {
              cause: err,
            }),
          )
        : ok(bound),
    ),
  );
}
