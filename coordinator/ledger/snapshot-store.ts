/**
 * Where ledger snapshots live: the JetStream stream `<PREFIX>_SNAPSHOTS`
 * (core JetStream, as an object store would do it on a newer server). A
 * snapshot is its chunks (`<p>.snapshots.chunks.<seq>`, each under the
 * server's max payload), then one manifest on `<p>.snapshots.manifest` that
 * names them with the ledger sequence it covers, the layout version, the
 * byte count and a sha256; the last manifest is the latest snapshot. Older
 * snapshots are purged once a newer one is complete.
 */
import { createHash } from 'node:crypto';
import {
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { Names } from '../../common/subjects.js';
import { ArswarmError, Code } from '../../common/errors.js';

/** Bytes per chunk (NATS' default max payload is 1 MiB). @default 512 KiB */
export const SNAPSHOT_CHUNK_BYTES = 512 * 1024;

/** What names a complete snapshot. */
export interface SnapshotManifest {
  /** Layout version of the serialized state (snapshot.ts). */
  version: number;
  /** Ledger sequence the state covers: every event up to it is in it. */
  seq: number;
  /** sha256 of the stored event at `seq`: a snapshot of another stream's history does not match. */
  eventSha256: string;
  bytes: number;
  sha256: string;
  /** Stream sequences of the chunks, in order. */
  chunkSeqs: number[];
}

export interface SnapshotStore {
  /** Stores a snapshot and makes it the latest. */
  write(
    m: Omit<SnapshotManifest, 'bytes' | 'sha256' | 'chunkSeqs'>,
    data: Uint8Array,
  ): Promise<SnapshotManifest>;
  /** The latest snapshot's manifest and bytes (undefined when there is none); throws when a chunk is missing or the bytes do not match. */
  latest(): Promise<{ manifest: SnapshotManifest; data: Uint8Array } | undefined>;
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Creates the snapshots stream if needed (idempotent). */
export async function ensureSnapshotsStream(
  jsm: JetStreamManager,
  names: Names,
  replicas = 1,
): Promise<void> {
  const cfg = {
    name: names.snapshotsStream,
    subjects: [names.snapshotsAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
  };
  try {
    await jsm.streams.info(cfg.name);
  } catch {
    await jsm.streams.add(cfg);
  }
}

/** The snapshots stream as a SnapshotStore. */
export function jetStreamSnapshots(js: JetStreamClient, jsm: JetStreamManager, names: Names): SnapshotStore {
  return {
    async write(m, data) {
      const subject = names.snapshotChunks(m.seq);
      const acks = [];
      // Hashed chunk by chunk, the loop running between chunks (hashing 50 MB at once holds it ~0.1 s).
      const hash = createHash('sha256');
      for (let at = 0; at < data.length || at === 0; at += SNAPSHOT_CHUNK_BYTES) {
        const chunk = data.subarray(at, at + SNAPSHOT_CHUNK_BYTES);
        hash.update(chunk);
        acks.push(js.publish(subject, chunk));
        if (data.length === 0) break;
        await new Promise((ok) => setImmediate(ok));
      }
      const chunkSeqs = (await Promise.all(acks)).map((a) => a.seq);
      const manifest: SnapshotManifest = { ...m, bytes: data.length, sha256: hash.digest('hex'), chunkSeqs };
      await js.publish(names.snapshotManifest, JSON.stringify(manifest));
      // The new one is complete: older chunks and manifests can go. By `keep`:
      // nats-server 2.9 purges every match of a filtered purge given a `seq`.
      await jsm.streams.purge(names.snapshotsStream, {
        filter: names.snapshotChunksAll,
        keep: chunkSeqs.length,
      });
      await jsm.streams.purge(names.snapshotsStream, { filter: names.snapshotManifest, keep: 1 });
      return manifest;
    },
    async latest() {
      const last = await jsm.streams
        .getMessage(names.snapshotsStream, { last_by_subj: names.snapshotManifest })
        .catch(() => null);
      if (!last) return undefined;
      const manifest = JSON.parse(new TextDecoder().decode(last.data)) as SnapshotManifest;
      // Hashed as the chunks arrive (in order), while the server sends the next ones.
      const hash = createHash('sha256');
      const chunks = await readChunks(js, names, manifest, (c) => hash.update(c));
      const data = Buffer.concat(chunks);
      if (data.length !== manifest.bytes || hash.digest('hex') !== manifest.sha256)
        throw new ArswarmError(
          Code.DataLoss,
          `snapshot at ${manifest.seq}: its bytes do not match the manifest`,
        );
      return { manifest, data };
    },
  };
}

/**
 * The chunks a manifest names, streamed by one ordered consumer from the
 * first (a get per chunk moves base64 JSON: seconds at 100 MB, and parallel
 * gets time out).
 */
async function readChunks(
  js: JetStreamClient,
  names: Names,
  m: SnapshotManifest,
  onChunk: (c: Uint8Array) => void,
): Promise<Uint8Array[]> {
  const want = new Map(m.chunkSeqs.map((seq, i) => [seq, i]));
  const last = Math.max(...m.chunkSeqs);
  const out: (Uint8Array | undefined)[] = m.chunkSeqs.map(() => undefined);
  const missing = (seq: number) =>
    new ArswarmError(Code.DataLoss, `snapshot at ${m.seq}: chunk ${seq} is missing`);
  if (!m.chunkSeqs.length) return [];
  const consumer = await js.consumers.get(names.snapshotsStream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: m.chunkSeqs[0]!,
  });
  const msgs = await consumer.consume({ max_messages: 64 });
  let got = 0;
  try {
    for await (const msg of msgs) {
      const i = want.get(msg.seq);
      if (i !== undefined) {
        if (msg.subject !== names.snapshotChunks(m.seq)) throw missing(msg.seq);
        // A chunk out of order (never, from one ordered consumer) means the stream is not what the manifest says.
        if (i !== got) throw missing(m.chunkSeqs[got]!);
        out[i] = msg.data;
        onChunk(msg.data);
        got++;
      }
      if (got === m.chunkSeqs.length || msg.seq >= last || msg.info.pending === 0) break;
    }
  } finally {
    await msgs.close();
  }
  const gap = out.findIndex((c) => !c);
  if (gap >= 0) throw missing(m.chunkSeqs[gap]!);
  return out as Uint8Array[];
}
