/**
 * Restarts from a snapshot: `openLedger` loads the latest valid snapshot and
 * replays only the events after its sequence (any mismatch or damage: a
 * full replay, with the reason logged); `LedgerSnapshotter` writes a new one
 * every `everyEvents` events (at most every `minIntervalMs`), and once right
 * after a start that had to replay a long tail.
 */
import { encode } from '../../common/codec.js';
import { EventSchema } from '../../gen/arswarm/v1/event_pb.js';
import { ArswarmError } from '../../common/errors.js';
import { withDefaults } from '../../common/option-defaults.js';
import { Ledger, type EventStore } from './ledger.js';
import { deserializeState, serializeStateAsync, SNAPSHOT_VERSION } from './snapshot.js';
import { sha256Hex, type SnapshotStore } from './snapshot-store.js';
import { LedgerState } from './state.js';
import type { Event } from '../../gen/arswarm/v1/event_pb.js';

/** @default 20,000 events between snapshots */
export const DEFAULT_SNAPSHOT_EVERY_EVENTS = 20_000;
/** @default 60 s between snapshots at most (one costs seconds of CPU at 100k trials, though in slices) */
export const DEFAULT_SNAPSHOT_MIN_INTERVAL_MS = 60_000;

export interface SnapshotOptions {
  /** Events after the latest snapshot that make a new one due. @default DEFAULT_SNAPSHOT_EVERY_EVENTS */
  everyEvents?: number;
  /** Shortest time between two snapshots. @default DEFAULT_SNAPSHOT_MIN_INTERVAL_MS */
  minIntervalMs?: number;
}

/** Defaults of SnapshotOptions. */
export const SNAPSHOT_DEFAULTS: Readonly<Required<SnapshotOptions>> = {
  everyEvents: DEFAULT_SNAPSHOT_EVERY_EVENTS,
  minIntervalMs: DEFAULT_SNAPSHOT_MIN_INTERVAL_MS,
};

/** Fills every default of snapshot options. */
export function resolveSnapshotOptions(o: SnapshotOptions): Required<SnapshotOptions> {
  return withDefaults(SNAPSHOT_DEFAULTS, o);
}

/** How a ledger was opened. */
export interface OpenedLedger {
  ledger: Ledger;
  /** Sequence of the snapshot it started from (0: full replay). */
  snapshotSeq: number;
  /** Events replayed after the snapshot (all of them without one). */
  replayed: number;
  /** Why a snapshot present was not used (empty when it was, or there was none). */
  rejected: string;
}

/** A stored event's fingerprint, the same whoever decoded it. */
const eventSha = (ev: Event) => sha256Hex(encode(EventSchema, { ...ev, seq: 0n }));

/** Opens the ledger from the latest valid snapshot plus the events after it, or by full replay. */
export async function openLedger(
  store: EventStore,
  stageNames: readonly string[],
  snapshots?: SnapshotStore,
): Promise<OpenedLedger> {
  let rejected = '';
  if (snapshots && store.get) {
    try {
      const snap = await snapshots.latest();
      if (snap) {
        const { manifest, data } = snap;
        const at = await store.get(manifest.seq);
        const state = manifest.version === SNAPSHOT_VERSION ? deserializeState(data, stageNames) : undefined;
        if (!state) rejected = `snapshot at ${manifest.seq} is of another layout or ladder`;
        else if (!at || eventSha(at) !== manifest.eventSha256)
          rejected = `snapshot at ${manifest.seq} does not match the ledger's event there`;
        else if (state.lastSeq !== BigInt(manifest.seq))
          rejected = `snapshot at ${manifest.seq} holds state up to ${state.lastSeq}`;
        else {
          const before = state.events;
          const from = manifest.seq + 1;
          if (store.scan) await store.scan(from, (ev) => state.apply(ev));
          else for await (const ev of store.read(from)) state.apply(ev);
          return {
            ledger: Ledger.fromState(store, state),
            snapshotSeq: manifest.seq,
            replayed: state.events - before,
            rejected: '',
          };
        }
      }
    } catch (err) {
      rejected = `snapshot unreadable: ${ArswarmError.from(err).message}`;
    }
  }
  const ledger = await Ledger.open(store, stageNames);
  return { ledger, snapshotSeq: 0, replayed: ledger.state.events, rejected };
}

/** Writes snapshots of a live ledger now and then. */
export class LedgerSnapshotter {
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private lastAt = 0;
  private readonly everyEvents: number;
  private readonly minIntervalMs: number;

  constructor(
    private readonly ledger: Ledger,
    private readonly store: EventStore,
    private readonly snapshots: SnapshotStore,
    /** Sequence of the latest snapshot (from openLedger). */
    private lastSeq: number,
    o: SnapshotOptions,
    private readonly log: (m: string) => void,
  ) {
    const r = resolveSnapshotOptions(o);
    this.everyEvents = r.everyEvents;
    this.minIntervalMs = r.minIntervalMs;
  }

  /** Checks every `checkMs` whether a snapshot is due. */
  start(checkMs = 5000): void {
    this.timer = setInterval(() => void this.maybe(), checkMs);
    this.timer.unref();
  }

  /** Writes a snapshot when enough events came since the last one (or `force`); resolves when written. */
  maybe(force = false): Promise<void> {
    if (this.writing) return this.writing;
    const seq = this.ledger.consistentSeq();
    if (seq === undefined || Number(seq) === this.lastSeq) return Promise.resolve();
    const due =
      Number(seq) - this.lastSeq >= this.everyEvents && Date.now() - this.lastAt >= this.minIntervalMs;
    if (!force && !due) return Promise.resolve();
    this.writing = this.write(seq).finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async write(seq: bigint): Promise<void> {
    const t0 = Date.now();
    // The state is copied before the first await, so at `seq` (consistentSeq()
    // just said so); the encoding then runs in slices and the results loop
    // goes on between them (2 s of a held loop at 100k trials otherwise).
    const { data, maxBlockMs } = await serializeStateAsync(this.ledger.state as LedgerState);
    try {
      const at = await this.store.get?.(Number(seq));
      if (!at) return;
      await this.snapshots.write(
        { version: SNAPSHOT_VERSION, seq: Number(seq), eventSha256: eventSha(at) },
        data,
      );
      this.lastSeq = Number(seq);
      this.lastAt = Date.now();
      this.log(
        `ledger snapshot at ${seq}: ${(data.length / 2 ** 20).toFixed(1)} MiB in ${Date.now() - t0} ms (event loop held at most ${Math.round(maxBlockMs)} ms)`,
      );
    } catch (err) {
      this.log(`ledger snapshot at ${seq} failed (the next one retries): ${ArswarmError.from(err).message}`);
    }
  }

  /** Stops checking and waits for a snapshot being written. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.writing;
  }
}
