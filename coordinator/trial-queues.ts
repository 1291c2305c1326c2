/**
 * The trial queues workers pull from: one JetStream consumer per stage and
 * GPU class, created before the first trial is published to it, and the
 * ladder (stage order, delivery limits) workers read from the control bucket.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { LadderSchema, TrialSchema, type Stage, type Trial } from '../gen/arswarm/v1/trial_pb.js';
import { encode } from '../common/codec.js';
import type { Config } from '../common/config.js';
import { ANY_GPU_CLASS, LADDER_KEY, type Names } from '../common/subjects.js';
import { ensureStageConsumer } from './jetstream-setup.js';

export class TrialQueues {
  /** `<stage>/<class>` of every consumer known to exist. */
  private readonly consumers = new Set<string>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: Names,
    private readonly ackWaitMs: number,
  ) {}

  /**
   * Creates every queue a KEDA trigger can name: a missing consumer reads to
   * KEDA as the stream's whole history and pins the pool at max.
   */
  async ensureAll(stages: readonly Stage[], gpuClasses: readonly string[]): Promise<void> {
    for (const s of stages)
      for (const cls of [ANY_GPU_CLASS, ...gpuClasses]) await this.ensureConsumer(s.name, cls);
  }

  /** Queues a trial for workers of its stage and class (deduplicated by its id). */
  async publish(t: Trial): Promise<void> {
    const stage = t.stage?.name ?? '';
    await this.ensureConsumer(stage, t.gpuClass);
    await this.js.publish(this.names.trials(stage, t.gpuClass), encode(TrialSchema, t), { msgID: t.id });
  }

  private async ensureConsumer(stage: string, gpuClass: string): Promise<void> {
    const key = `${stage}/${gpuClass}`;
    if (this.consumers.has(key)) return;
    await ensureStageConsumer(this.jsm, this.names, stage, this.ackWaitMs, gpuClass);
    this.consumers.add(key);
  }
}

/** Writes the ladder workers pull by (worker/ladder.ts) into the control bucket. */
export async function publishLadder(control: KV, stages: Stage[], config: Config): Promise<void> {
  await control.put(
    LADDER_KEY,
    encode(LadderSchema, {
      stages,
      maxDeliveries: config.swarm.max_deliveries,
      ackWaitMs: BigInt(config.swarm.ack_wait_seconds * 1000),
    }),
  );
}
