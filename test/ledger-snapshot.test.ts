/**
 * Ledger snapshots on a real nats-server: a restart loads the latest
 * snapshot and replays only the events after it, to the same state as a full
 * replay (byte for byte on the serialized view); a damaged snapshot, or one
 * of another stream's history, falls back to the full replay and says why;
 * an older snapshot's chunks are purged once a newer one is complete.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSchema, type Event } from '../gen/arswarm/v1/event_pb.js';
import { encode } from '../common/codec.js';
import { startNatsServer, type NatsServer } from '../common/nats-server.js';
import { names as makeNames } from '../common/subjects.js';
import { ensureSwarmStreams } from '../coordinator/jetstream-setup.js';
import { jetStreamStore, Ledger, type EventStore } from '../coordinator/ledger/ledger.js';
import { serializeState } from '../coordinator/ledger/snapshot.js';
import {
  ensureSnapshotsStream,
  jetStreamSnapshots,
  SNAPSHOT_CHUNK_BYTES,
  type SnapshotStore,
} from '../coordinator/ledger/snapshot-store.js';
import { LedgerSnapshotter, openLedger } from '../coordinator/ledger/snapshots.js';
import { ledgerEvents, STAGES } from './support/ledger-events.js';

describe('ledger snapshots in JetStream', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const events = ledgerEvents(6000, 11);

  beforeAll(async () => {
    nats = await startNatsServer({});
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  async function swarm(prefix: string) {
    const n = makeNames(prefix);
    await ensureSwarmStreams(nc, jsm, n);
    await ensureSnapshotsStream(jsm, n);
    return { n, store: jetStreamStore(js, jsm, n), snaps: jetStreamSnapshots(js, jsm, n) };
  }
  /** Appends events as they were (pipelined). */
  async function append(store: EventStore, evs: readonly Event[]) {
    await Promise.all(evs.map((ev) => store.append(encode(EventSchema, { ...ev, seq: 0n }))));
  }
  const view = (l: Ledger) => Buffer.from(serializeState(l.state));
  const snapshotAt = async (l: Ledger, store: EventStore, snaps: SnapshotStore, from = 0) => {
    const s = new LedgerSnapshotter(
      l,
      store,
      snaps,
      from,
      { everyEvents: 1, minIntervalMs: 0 },
      () => undefined,
    );
    await s.maybe();
    await s.close();
  };

  it('restarts from the latest snapshot and the tail, to the state of a full replay', async () => {
    const { n, store, snaps } = await swarm('snap1');
    await append(store, events.slice(0, 4000));
    const first = await openLedger(store, STAGES, snaps);
    expect(first.snapshotSeq).toBe(0);
    expect(first.replayed).toBe(4000);
    await snapshotAt(first.ledger, store, snaps);
    const latest = (await snaps.latest())!;
    expect(latest.manifest.seq).toBe(4000);
    // Big enough to need several chunks.
    expect(latest.manifest.chunkSeqs.length).toBeGreaterThan(1);
    expect(latest.manifest.bytes).toBeGreaterThan(SNAPSHOT_CHUNK_BYTES);
    await append(store, events.slice(4000, 5000));
    const second = await openLedger(store, STAGES, snaps);
    expect(second.rejected).toBe('');
    expect(second.snapshotSeq).toBe(4000);
    expect(second.replayed).toBe(1000);
    const full = await Ledger.open(store, STAGES);
    expect(view(second.ledger).equals(view(full))).toBe(true);
    // A newer snapshot replaces the older one; the older chunks are purged.
    await snapshotAt(second.ledger, store, snaps, 4000);
    expect((await snaps.latest())!.manifest.seq).toBe(5000);
    for (const seq of latest.manifest.chunkSeqs)
      expect(await jsm.streams.getMessage(n.snapshotsStream, { seq }).catch(() => null)).toBeNull();
    // The restored ledger goes on appending where the stream is.
    const ev = await second.ledger.append({ case: 'swarmPaused', value: { by: 'test' } });
    expect(ev?.seq).toBe(5001n);
  });

  it('replays everything when the snapshot is damaged or of another history', async () => {
    const { n, store, snaps } = await swarm('snap2');
    await append(store, events.slice(0, 3000));
    const first = await openLedger(store, STAGES, snaps);
    await snapshotAt(first.ledger, store, snaps);
    const { manifest } = (await snaps.latest())!;
    // A chunk lost.
    await jsm.streams.deleteMessage(n.snapshotsStream, manifest.chunkSeqs.at(-1)!);
    const damaged = await openLedger(store, STAGES, snaps);
    expect(damaged.snapshotSeq).toBe(0);
    expect(damaged.rejected).toMatch(/unreadable: .*chunk .* is missing/);
    expect(view(damaged.ledger).equals(view(first.ledger))).toBe(true);
    // Bytes that do not match the manifest.
    await snapshotAt(damaged.ledger, store, snaps);
    const good = (await snaps.latest())!.manifest;
    await js.publish(n.snapshotManifest, JSON.stringify({ ...good, sha256: '0'.repeat(64) }));
    expect((await openLedger(store, STAGES, snaps)).rejected).toMatch(/do not match the manifest/);
    await js.publish(n.snapshotManifest, JSON.stringify(good));
    expect((await openLedger(store, STAGES, snaps)).snapshotSeq).toBe(3000);
    // The events stream recreated with another history under the same prefix.
    await jsm.streams.delete(n.eventsStream);
    await ensureSwarmStreams(nc, jsm, n);
    await append(store, ledgerEvents(3000, 12));
    const other = await openLedger(store, STAGES, snaps);
    expect(other.snapshotSeq).toBe(0);
    expect(other.rejected).toMatch(/does not match the ledger's event/);
    expect(view(other.ledger).equals(view(await Ledger.open(store, STAGES)))).toBe(true);
  });
});
