/**
 * Pulls one JetStream message at a time with the raw pull API, so a worker can
 * ask several stage queues in priority order without waiting on empty ones
 * (`no_wait`) and long-poll with short expiries (the client library's `next()`
 * refuses expiries under 1 s).
 */
import { createInbox, headers as natsHeaders, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { withDefaults } from './option-defaults.js';

/** A message pulled from a work queue, with the ack verbs JetStream understands. */
export interface PulledMsg {
  readonly data: Uint8Array;
  readonly subject: string;
  /** How many times JetStream has delivered this message (1 = first). */
  readonly deliveryCount: number;
  readonly streamSeq: number;
  /** Ack and wait for the server to confirm it. */
  ackSync(timeoutMs?: number): Promise<void>;
  /** Resets the ack timer (work in progress). */
  working(): void;
  /** Puts the message back for redelivery, optionally after a delay. */
  nak(delayMs?: number): void;
  /** Never deliver again. */
  term(reason?: string): void;
}

function parseAckSubject(reply: string): { delivered: number; streamSeq: number } {
  // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>  (9 tokens)
  // $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>.<rand> (12)
  const t = reply.split('.');
  const off = t.length >= 12 ? 6 : 4;
  return { delivered: Number(t[off]) || 1, streamSeq: Number(t[off + 1]) || 0 };
}

function wrap(nc: NatsConnection, m: Msg): PulledMsg {
  const reply = m.reply ?? '';
  const info = parseAckSubject(reply);
  return {
    data: m.data,
    subject: m.subject,
    deliveryCount: info.delivered,
    streamSeq: info.streamSeq,
    async ackSync(timeoutMs = 5000) {
      await nc.request(reply, '+ACK', { timeout: timeoutMs });
    },
    working() {
      nc.publish(reply, '+WPI');
    },
    nak(delayMs) {
      nc.publish(reply, delayMs ? `-NAK ${JSON.stringify({ delay: delayMs * 1_000_000 })}` : '-NAK');
    },
    term(reason) {
      nc.publish(reply, reason ? `+TERM ${reason}` : '+TERM');
    },
  };
}

export interface PullOneOptions {
  /** Return at once when the queue is empty. */
  noWait?: boolean;
  /** How long the server holds the request open when not noWait. @default 1000 */
  expiresMs?: number;
}

/** Default of PullOneOptions.expiresMs (also the worker's poll expiry). */
export const DEFAULT_PULL_EXPIRES_MS = 1000;

/**
 * Requests at most one message from a durable pull consumer. Resolves to null
 * when there is none (empty queue, expiry, or a missing consumer).
 */
export async function pullOne(
  nc: NatsConnection,
  stream: string,
  consumer: string,
  options: PullOneOptions = {},
): Promise<PulledMsg | null> {
  const { expiresMs } = withDefaults({ expiresMs: DEFAULT_PULL_EXPIRES_MS }, options);
  const body: Record<string, unknown> = { batch: 1 };
  if (options.noWait) body.no_wait = true;
  else body.expires = expiresMs * 1_000_000;
  const inbox = createInbox();
  const sub = nc.subscribe(inbox, { max: 1 });
  nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify(body), { reply: inbox });
  const guard = setTimeout(() => sub.unsubscribe(), (options.noWait ? 2000 : expiresMs) + 2000);
  try {
    for await (const m of sub) {
      const status = m.headers?.code ?? 0;
      if (status !== 0 || (m.data.length === 0 && !m.reply)) return null;
      return wrap(nc, m);
    }
    return null;
  } finally {
    clearTimeout(guard);
    sub.unsubscribe();
  }
}

/** Headers carrying a JetStream dedupe id. */
export function msgIdHeaders(id: string) {
  const h = natsHeaders();
  h.set('Nats-Msg-Id', id);
  return h;
}
