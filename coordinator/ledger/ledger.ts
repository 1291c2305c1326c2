/**
 * The ledger: every fact is an Event appended to the JetStream events stream
 * (with a dedupe id where the fact has a natural key), then applied to the
 * in-memory state. On start the state is rebuilt by replaying the stream.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { EventSchema, type Event } from '../../gen/arswarm/v1/event_pb.js';
import type { TrialResult } from '../../gen/arswarm/v1/trial_pb.js';
import { decode, encode } from '../../common/codec.js';
import type { Names } from '../../common/subjects.js';
import { Mutex } from '../mutex.js';
import { LedgerState } from './state.js';

export type EventBody = MessageInitShape<typeof EventSchema>['body'];
export type EventListener = (ev: Event) => void;

/** Where events are stored: JetStream in production, memory in simulations. */
export interface EventStore {
  /** Stores an encoded event; `duplicate` when the dedupe id was seen before. */
  append(data: Uint8Array, dedupeId?: string): Promise<{ seq: number; duplicate: boolean }>;
  /** Reads events from `fromSeq` (inclusive) to the end as it is now. */
  read(fromSeq: number): AsyncIterable<Event>;
  /**
   * Calls `fn` for every event from `fromSeq` to the end as it is now, like
   * `read` without an async step per event (the start-up replay).
   */
  scan?(fromSeq: number, fn: (ev: Event) => void): Promise<void>;
  /** The event at a sequence number (undefined when there is none). */
  get?(seq: number): Promise<Event | undefined>;
}

/** The JetStream events stream as an EventStore. */
export function jetStreamStore(js: JetStreamClient, jsm: JetStreamManager, names: Names): EventStore {
  return {
    async append(data, dedupeId) {
      const ack = await js.publish(names.events, data, dedupeId ? { msgID: dedupeId } : undefined);
      return { seq: ack.seq, duplicate: ack.duplicate };
    },
    read: (fromSeq) => replay(js, jsm, names, fromSeq),
    scan: (fromSeq, fn) => scanEvents(js, jsm, names, fromSeq, fn),
    async get(seq) {
      const m = await jsm.streams.getMessage(names.eventsStream, { seq });
      if (!m) return undefined;
      const ev = decode(EventSchema, m.data);
      ev.seq = BigInt(seq);
      return ev;
    },
  };
}

/** Events kept in memory (simulations and benchmarks: no durability). */
export function memoryStore(): EventStore {
  const events: Uint8Array[] = [];
  const ids = new Map<string, number>();
  return {
    async append(data, dedupeId) {
      // As JetStream does, a duplicate's acknowledgement carries the original's sequence.
      const seen = dedupeId ? ids.get(dedupeId) : undefined;
      if (seen !== undefined) return { seq: seen, duplicate: true };
      events.push(data);
      if (dedupeId) ids.set(dedupeId, events.length);
      return { seq: events.length, duplicate: false };
    },
    async *read(fromSeq) {
      for (let i = Math.max(fromSeq, 1); i <= events.length; i++) {
        const ev = decode(EventSchema, events[i - 1]!);
        ev.seq = BigInt(i);
        yield ev;
      }
    },
    async get(seq) {
      const data = events[seq - 1];
      if (!data) return undefined;
      const ev = decode(EventSchema, data);
      ev.seq = BigInt(seq);
      return ev;
    },
  };
}

export class Ledger {
  readonly state: LedgerState;
  private readonly listeners = new Set<EventListener>();
  /** Clock for event times (simulations pass their own). */
  now: () => number = Date.now;
  /** Every stored event up to this sequence is applied. */
  private appliedTo = 0n;
  /** Sequences above `appliedTo` already applied (appended after one whose fate is unknown). */
  private readonly appliedAhead = new Set<bigint>();
  /**
   * An append failed without telling whether the store kept the event (NATS
   * restarting, an acknowledgement lost): the stream may hold a fact the
   * state lacks, so the next append first reads the stream's tail.
   */
  private uncertain = false;
  /** Appends and catch-ups one at a time, so a caught-up event is never applied twice. */
  private readonly lock = new Mutex();

  private constructor(
    private readonly store: EventStore,
    state: LedgerState,
  ) {
    this.state = state;
    this.appliedTo = state.lastSeq;
  }

  /** Opens the ledger and rebuilds the state from every stored event. */
  static async open(store: EventStore, stageNames: readonly string[]): Promise<Ledger> {
    const state = new LedgerState(stageNames);
    if (store.scan) await store.scan(1, (ev) => state.apply(ev));
    else for await (const ev of store.read(1)) state.apply(ev);
    return new Ledger(store, state);
  }

  /**
   * Opens the ledger from a state already rebuilt up to its `lastSeq` (a
   * snapshot plus the tail after it): the caller guarantees every stored
   * event up to that sequence is in it.
   */
  static fromState(store: EventStore, state: LedgerState): Ledger {
    return new Ledger(store, state);
  }

  /**
   * Appends a fact. With `dedupeId`, a second append of the same fact (after a
   * crash and retry) is dropped by JetStream and not applied again; if the
   * first one never reached the state (its acknowledgement was lost), the
   * stored event is applied now and returned.
   */
  append(body: EventBody, dedupeId?: string): Promise<Event | undefined> {
    return this.lock.run(async () => {
      await this.catchUpLocked();
      const ev = create(EventSchema, { atMs: BigInt(this.now()), body });
      let ack: { seq: number; duplicate: boolean };
      try {
        ack = await this.store.append(encode(EventSchema, ev), dedupeId);
      } catch (err) {
        this.uncertain = true;
        throw err;
      }
      if (ack.duplicate) return this.applyStored(ack.seq);
      ev.seq = BigInt(ack.seq);
      this.applyEvent(ev);
      return ev;
    });
  }

  /** An append failed without telling whether the store kept it, and no catch-up has run since (the store is likely unreachable). */
  get writesUncertain(): boolean {
    return this.uncertain;
  }

  /**
   * The sequence up to which every stored event is applied and none above it
   * is, or undefined while an append's outcome is unknown (a snapshot taken
   * then could miss a stored event).
   */
  consistentSeq(): bigint | undefined {
    if (this.uncertain || this.appliedAhead.size > 0 || this.appliedTo !== this.state.lastSeq)
      return undefined;
    return this.appliedTo;
  }

  /**
   * Applies every stored event the state lacks after an append whose outcome
   * was unknown; a no-op otherwise. Callers that compare the state with the
   * outside world (the shared branch) call it first.
   */
  catchUp(): Promise<void> {
    return this.lock.run(() => this.catchUpLocked());
  }

  private async catchUpLocked(): Promise<void> {
    if (!this.uncertain) return;
    let last = this.appliedTo;
    for await (const ev of this.store.read(Number(this.appliedTo + 1n))) {
      if (!this.isApplied(ev.seq)) this.applyEvent(ev);
      if (ev.seq > last) last = ev.seq;
    }
    // Everything stored up to `last` is applied now.
    this.appliedTo = last;
    for (const s of this.appliedAhead) if (s <= last) this.appliedAhead.delete(s);
    this.uncertain = false;
  }

  private isApplied(seq: bigint): boolean {
    return seq <= this.appliedTo || this.appliedAhead.has(seq);
  }

  private applyEvent(ev: Event): void {
    this.state.apply(ev);
    if (ev.seq === this.appliedTo + 1n) {
      this.appliedTo = ev.seq;
      while (this.appliedAhead.delete(this.appliedTo + 1n)) this.appliedTo++;
    } else if (ev.seq > this.appliedTo) this.appliedAhead.add(ev.seq);
    for (const l of this.listeners) l(ev);
  }

  /** A duplicate's stored original, applied when the state does not have it yet. */
  private async applyStored(seq: number): Promise<Event | undefined> {
    const s = BigInt(seq);
    if (s <= 0n || this.isApplied(s)) return undefined;
    const ev = await this.store.get?.(seq);
    if (!ev) {
      this.uncertain = true;
      return undefined;
    }
    this.applyEvent(ev);
    return ev;
  }

  /**
   * Appends several facts in order with pipelined writes: all are sent at
   * once, then each is applied, in order, as its acknowledgement arrives
   * (the same state as appending them one by one, without a round trip per
   * fact). One outcome per fact: the event (undefined for a duplicate), or
   * the error that kept it out of the ledger.
   */
  appendMany(
    facts: readonly { body: EventBody; dedupeId?: string }[],
  ): Promise<({ ok: true; event: Event | undefined } | { ok: false; error: unknown })[]> {
    return this.lock.run(() => this.appendManyLocked(facts));
  }

  private async appendManyLocked(
    facts: readonly { body: EventBody; dedupeId?: string }[],
  ): Promise<({ ok: true; event: Event | undefined } | { ok: false; error: unknown })[]> {
    await this.catchUpLocked();
    const sent = facts.map((f) => {
      const ev = create(EventSchema, { atMs: BigInt(this.now()), body: f.body });
      const ack = this.store.append(encode(EventSchema, ev), f.dedupeId).then(
        (a) => ({ ok: true as const, a }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      return { ev, ack };
    });
    const out: ({ ok: true; event: Event | undefined } | { ok: false; error: unknown })[] = [];
    for (const { ev, ack } of sent) {
      const r = await ack;
      if (!r.ok) {
        this.uncertain = true;
        out.push(r);
        continue;
      }
      if (r.a.duplicate) {
        out.push({ ok: true, event: await this.applyStored(r.a.seq) });
        continue;
      }
      ev.seq = BigInt(r.a.seq);
      this.applyEvent(ev);
      out.push({ ok: true, event: ev });
    }
    return out;
  }

  /**
   * A trial's result as recorded, with its log tail (the state keeps results
   * without their tails); undefined before the trial has finished.
   */
  async result(trialId: string): Promise<TrialResult | undefined> {
    const tv = this.state.trials.get(trialId);
    if (!tv?.result) return undefined;
    if (!tv.resultSeq || !this.store.get) return tv.result;
    const ev = await this.store.get(Number(tv.resultSeq));
    const recorded = ev?.body.case === 'trialFinished' ? ev.body.value.result : undefined;
    return recorded?.trialId === trialId ? { ...tv.result, logTail: recorded.logTail } : tv.result;
  }

  /** Calls `fn` for every event appended from now on; returns an unsubscribe function. */
  onEvent(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Reads stored events from `fromSeq` (inclusive) up to now. */
  async *history(fromSeq: bigint): AsyncGenerator<Event> {
    if (fromSeq > this.state.lastSeq) return;
    for await (const ev of this.store.read(Number(fromSeq))) {
      if (ev.seq > this.state.lastSeq) break;
      yield ev;
    }
  }
}

/** The consumer that reads the events stream from `fromSeq`; undefined when there is nothing to read. */
async function eventsConsumer(js: JetStreamClient, jsm: JetStreamManager, names: Names, fromSeq: number) {
  const info = await jsm.streams.info(names.eventsStream);
  if (info.state.messages === 0 || fromSeq > info.state.last_seq) return undefined;
  return js.consumers.get(
    names.eventsStream,
    fromSeq > 1
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq }
      : { deliver_policy: DeliverPolicy.All },
  );
}

/**
 * Calls `fn` for every stored event from `fromSeq`, in order, from the
 * consumer's callback: at a few hundred thousand events the async iteration
 * of `replay` (two awaits per event) cost about a tenth of a restart.
 */
export async function scanEvents(
  js: JetStreamClient,
  jsm: JetStreamManager,
  names: Names,
  fromSeq: number,
  fn: (ev: Event) => void,
): Promise<void> {
  const consumer = await eventsConsumer(js, jsm, names, fromSeq);
  if (!consumer) return;
  let stopped = false;
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const msgs = await consumer.consume({
    max_messages: 1000,
    callback: (m) => {
      if (stopped) return;
      try {
        const ev = decode(EventSchema, m.data);
        ev.seq = BigInt(m.seq);
        fn(ev);
      } catch (err) {
        stopped = true;
        fail(err);
        return;
      }
      if (m.info.pending === 0) {
        stopped = true;
        finish();
      }
    },
  });
  void msgs.closed().then((err) => {
    if (stopped) return;
    stopped = true;
    fail(err ?? new Error(`the ${names.eventsStream} consumer closed before the end of the stream`));
  });
  try {
    await finished;
  } finally {
    await msgs.close();
  }
}

/** Every stored event from `fromSeq`, in order (for replay and audits). */
export async function* replay(
  js: JetStreamClient,
  jsm: JetStreamManager,
  names: Names,
  fromSeq = 1,
): AsyncGenerator<Event> {
  const consumer = await eventsConsumer(js, jsm, names, fromSeq);
  if (!consumer) return;
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
