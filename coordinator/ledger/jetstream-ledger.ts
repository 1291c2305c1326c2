/**
 * The coordinator's ledger over JetStream: the events stream, the snapshots
 * stream, a replay from the latest usable snapshot, and the snapshotter that
 * keeps the next start's replay short.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Config } from '../../common/config.js';
import type { Names } from '../../common/subjects.js';
import { jetStreamStore, type Ledger } from './ledger.js';
import { ensureSnapshotsStream, jetStreamSnapshots } from './snapshot-store.js';
import { LedgerSnapshotter, openLedger, resolveSnapshotOptions, type SnapshotOptions } from './snapshots.js';

/** A replayed ledger and its (not yet started) snapshotter. */
export interface JetStreamLedger {
  readonly ledger: Ledger;
  readonly snapshotter: LedgerSnapshotter;
  /** Events the replay applied (after the snapshot it loaded, if any). */
  readonly replayed: number;
}

/** Replays the swarm's ledger, from its latest snapshot when one is usable. */
export async function openJetStreamLedger(
  js: JetStreamClient,
  jsm: JetStreamManager,
  names: Names,
  config: Config,
  snapshotOptions: SnapshotOptions,
  log: (msg: string) => void,
): Promise<JetStreamLedger> {
  await ensureSnapshotsStream(jsm, names, config.swarm.stream_replicas);
  const events = jetStreamStore(js, jsm, names);
  const snapshots = jetStreamSnapshots(js, jsm, names);
  const opened = await openLedger(
    events,
    config.stages.map((s) => s.name),
    snapshots,
  );
  if (opened.rejected) log(`${opened.rejected}: replayed the whole ledger`);
  const snapshotter = new LedgerSnapshotter(
    opened.ledger,
    events,
    snapshots,
    opened.snapshotSeq,
    snapshotOptions,
    log,
  );
  return { ledger: opened.ledger, snapshotter, replayed: opened.replayed };
}

/** Starts writing snapshots; after a long replay one is due at once, so the next start does not repeat it. */
export function startSnapshots(l: JetStreamLedger, o: SnapshotOptions): void {
  l.snapshotter.start();
  if (l.replayed >= resolveSnapshotOptions(o).everyEvents) void l.snapshotter.maybe(true);
}
