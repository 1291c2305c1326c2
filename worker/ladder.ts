/**
 * The ladder as the worker sees it: read from the control KV bucket (the
 * coordinator writes it), kept current by a watch, and turned into the order
 * in which stage queues are asked for work.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { decode } from '../common/codec.js';
import { canRunStage } from '../common/eligibility.js';
import { ANY_GPU_CLASS, LADDER_KEY, type Names } from '../common/subjects.js';
import { LadderSchema, type Ladder } from '../gen/arswarm/v1/trial_pb.js';
import type { Device } from './gpus.js';

/** One queue to ask, in order. */
export interface PullTarget {
  readonly stage: string;
  readonly consumer: string;
}

export interface PullPlan {
  /** Asked with no_wait, highest stage first, `any` before the device's own class. */
  readonly sweep: PullTarget[];
  /**
   * Long-polled when the sweep finds nothing, the first of these that exists:
   * the lowest eligible stage's queue of the device's own class (where the
   * coordinator pins candidates and baselines), then its `any` queue.
   */
  readonly longPoll: PullTarget[];
}

/** Whether a device may run a stage: CPU devices (memory 0) only take stages without a memory floor. */
export function eligible(minGpuMemoryMb: number, device: Device): boolean {
  return canRunStage(minGpuMemoryMb, device.gpu === undefined ? 0 : device.memoryMb);
}

/** The pull order for a device. */
export function pullPlan(ladder: Ladder, device: Device, n: Names): PullPlan {
  const stages = ladder.stages
    .filter((s) => eligible(s.minGpuMemoryMb, device))
    .sort((a, b) => b.index - a.index);
  const sweep: PullTarget[] = [];
  for (const s of stages) {
    // `any` first: the coordinator pins nearly all work to a class, and the
    // little left in `any` (queued before any worker was seen) must not wait
    // behind a class queue that never runs dry.
    sweep.push({ stage: s.name, consumer: n.stageConsumer(s.name, ANY_GPU_CLASS) });
    if (device.gpuClass !== ANY_GPU_CLASS)
      sweep.push({ stage: s.name, consumer: n.stageConsumer(s.name, device.gpuClass) });
  }
  const lowest = stages.at(-1);
  const longPoll: PullTarget[] = [];
  if (lowest && device.gpuClass !== ANY_GPU_CLASS)
    longPoll.push({ stage: lowest.name, consumer: n.stageConsumer(lowest.name, device.gpuClass) });
  if (lowest) longPoll.push({ stage: lowest.name, consumer: n.stageConsumer(lowest.name, ANY_GPU_CLASS) });
  return { sweep, longPoll };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

/** Keeps the latest ladder from the control bucket. */
export class LadderWatch {
  private ladder: Ladder | undefined;
  private readonly stop = new AbortController();
  private kv: KV | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly bucket: string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** The current ladder (after ready()). */
  get current(): Ladder | undefined {
    return this.ladder;
  }

  /** Resolves once a ladder has been read, retrying until the coordinator wrote one (or the watch is closed). */
  async ready(retryMs = 500): Promise<Ladder | undefined> {
    let warned = false;
    while (!this.stop.signal.aborted) {
      try {
        this.kv ??= await new Kvm(this.nc).open(this.bucket);
        const e = await this.kv.get(LADDER_KEY);
        if (e && e.operation === 'PUT' && e.value.length) {
          this.ladder = decode(LadderSchema, e.value);
          void this.follow();
          return this.ladder;
        }
      } catch (err) {
        if (!warned) this.onError(err);
        warned = true;
        this.kv = undefined;
      }
      await sleep(retryMs, this.stop.signal);
    }
    return undefined;
  }

  private async follow(): Promise<void> {
    while (!this.stop.signal.aborted) {
      try {
        const kv = (this.kv ??= await new Kvm(this.nc).open(this.bucket));
        const it = await kv.watch({ key: LADDER_KEY, include: 'updates' });
        this.stop.signal.addEventListener('abort', () => it.stop(), { once: true });
        for await (const e of it) {
          if (e.operation === 'PUT' && e.value.length) this.ladder = decode(LadderSchema, e.value);
        }
      } catch (err) {
        this.onError(err);
        this.kv = undefined;
      }
      await sleep(1000, this.stop.signal);
    }
  }

  close(): void {
    this.stop.abort();
  }
}
