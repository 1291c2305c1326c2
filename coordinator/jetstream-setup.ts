/** Creates (idempotently) the streams, consumers and KV buckets a swarm needs. */
import { AckPolicy, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { ANY_GPU_CLASS, type Names } from '../common/subjects.js';

/** @default 10 minutes: a trial re-published after a restart within this window is dropped as a duplicate. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;
/** Heartbeats older than this vanish from the workers bucket. */
export const DEFAULT_HEARTBEAT_TTL_MS = 15_000;

export interface SwarmStreams {
  workers: KV;
  control: KV;
}

async function ensureStream(
  jsm: JetStreamManager,
  cfg: Parameters<JetStreamManager['streams']['add']>[0],
): Promise<void> {
  try {
    await jsm.streams.info(cfg.name!);
    await jsm.streams.update(cfg.name!, cfg);
  } catch {
    await jsm.streams.add(cfg);
  }
}

/** Streams and buckets; safe to call on every start. */
export async function ensureSwarmStreams(
  nc: NatsConnection,
  jsm: JetStreamManager,
  names: Names,
  /** JetStream replicas of every stream and bucket. */
  replicas = 1,
): Promise<SwarmStreams> {
  await ensureStream(jsm, {
    name: names.trialsStream,
    subjects: [names.trialsAll],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(DEFAULT_DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
  });
  await ensureStream(jsm, {
    name: names.resultsStream,
    subjects: [names.resultsAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(7 * 24 * 3600_000),
    duplicate_window: nanos(DEFAULT_DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
  });
  await ensureStream(jsm, {
    name: names.eventsStream,
    subjects: [names.events],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: nanos(DEFAULT_DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
  });
  await ensureResultsConsumer(jsm, names);
  const kvm = new Kvm(nc);
  const workers = await kvm.create(names.workersBucket, {
    ttl: DEFAULT_HEARTBEAT_TTL_MS,
    history: 1,
    replicas,
  });
  const control = await kvm.create(names.controlBucket, { history: 1, replicas });
  return { workers, control };
}

async function ensureResultsConsumer(jsm: JetStreamManager, names: Names): Promise<void> {
  await jsm.consumers.add(names.resultsStream, {
    durable_name: names.resultsConsumer,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(30_000),
    max_ack_pending: 10_000,
  });
}

/** The durable pull consumer of one stage's queue for one GPU class. */
export async function ensureStageConsumer(
  jsm: JetStreamManager,
  names: Names,
  stage: string,
  ackWaitMs: number,
  gpuClass: string = ANY_GPU_CLASS,
): Promise<void> {
  const cfg = {
    durable_name: names.stageConsumer(stage, gpuClass),
    filter_subject: names.trials(stage, gpuClass),
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(ackWaitMs),
    max_deliver: -1,
    max_ack_pending: -1,
  };
  try {
    await jsm.consumers.add(names.trialsStream, cfg);
  } catch {
    await jsm.consumers.update(names.trialsStream, cfg.durable_name, { ack_wait: cfg.ack_wait });
  }
}
