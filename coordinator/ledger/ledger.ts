/**
 * The ledger: every fact is an Event appended to the JetStream events stream
 * (with a dedupe id where the fact has a natural key), then applied to the
 * in-memory state. On start the state is rebuilt by replaying the stream.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { EventSchema, type Event } from '../../gen/arswarm/v1/event_pb.js';
import { decode, encode } from '../../common/codec.js';
import type { Names } from '../../common/subjects.js';
import { LedgerState } from './state.js';

export type EventBody = MessageInitShape<typeof EventSchema>['body'];
export type EventListener = (ev: Event) => void;

export class Ledger {
  readonly state: LedgerState;
  private readonly listeners = new Set<EventListener>();

  private constructor(
    private readonly js: JetStreamClient,
    private readonly names: Names,
    state: LedgerState,
  ) {
    this.state = state;
  }

  /** Opens the ledger and rebuilds the state from every stored event. */
  static async open(
    js: JetStreamClient,
    jsm: JetStreamManager,
    names: Names,
    stageNames: readonly string[],
  ): Promise<Ledger> {
    const state = new LedgerState(stageNames);
    for await (const ev of replay(js, jsm, names)) state.apply(ev);
    return new Ledger(js, names, state);
  }

  /**
   * Appends a fact. With `dedupeId`, a second append of the same fact (after a
   * crash and retry) is dropped by JetStream and not applied again.
   */
  async append(body: EventBody, dedupeId?: string): Promise<Event | undefined> {
    const ev = create(EventSchema, { atMs: BigInt(Date.now()), body });
    const ack = await this.js.publish(
      this.names.events,
      encode(EventSchema, ev),
      dedupeId ? { msgID: dedupeId } : undefined,
    );
    if (ack.duplicate) return undefined;
    ev.seq = BigInt(ack.seq);
    this.state.apply(ev);
    for (const l of this.listeners) l(ev);
    return ev;
  }

  /** Calls `fn` for every event appended from now on; returns an unsubscribe function. */
  onEvent(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Reads stored events from `fromSeq` (inclusive) up to now. */
  async *history(fromSeq: bigint): AsyncGenerator<Event> {
    if (fromSeq > this.state.lastSeq) return;
    const consumer = await this.js.consumers.get(this.names.eventsStream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Number(fromSeq),
    });
    const msgs = await consumer.consume({ max_messages: 500 });
    try {
      for await (const m of msgs) {
        const ev = decode(EventSchema, m.data);
        ev.seq = BigInt(m.seq);
        yield ev;
        if (m.info.pending === 0 || ev.seq >= this.state.lastSeq) break;
      }
    } finally {
      await msgs.close();
    }
  }
}

/** Every stored event, in order (for replay and audits). */
export async function* replay(
  js: JetStreamClient,
  jsm: JetStreamManager,
  names: Names,
): AsyncGenerator<Event> {
  const info = await jsm.streams.info(names.eventsStream);
  if (info.state.messages === 0) return;
  const consumer = await js.consumers.get(names.eventsStream, { deliver_policy: DeliverPolicy.All });
  const msgs = await consumer.consume({ max_messages: 1000 });
  try {
    for await (const m of msgs) {
      const ev = decode(EventSchema, m.data);
      ev.seq = BigInt(m.seq);
      yield ev;
      if (m.info.pending === 0) break;
    }
  } finally {
    await msgs.close();
  }
}
