/** Live workers, from the heartbeat KV bucket (entries expire with the bucket TTL). */
import type { KV } from '@nats-io/kv';
import { WorkerHeartbeatSchema, type WorkerHeartbeat } from '../gen/arswarm/v1/trial_pb.js';
import { decode } from '../common/codec.js';

/** A heartbeat older than this counts as a lost worker. @default 10000 */
export const DEFAULT_WORKER_LOST_MS = 10_000;

export class WorkersView {
  private readonly workers = new Map<string, WorkerHeartbeat>();
  private stopped = false;
  private iter?: { stop(): void };
  private startedAt = Infinity;

  constructor(private readonly lostMs = DEFAULT_WORKER_LOST_MS) {}

  /** Starts following the bucket. */
  async start(kv: KV): Promise<void> {
    const w = await kv.watch();
    this.iter = w;
    this.startedAt = Date.now();
    void (async () => {
      for await (const e of w) {
        if (this.stopped) break;
        if (e.operation === 'PUT') {
          try {
            const hb = decode(WorkerHeartbeatSchema, e.value);
            this.workers.set(e.key, hb);
          } catch {
            // A malformed heartbeat is ignored; the worker stays unknown.
          }
        } else this.workers.delete(e.key);
      }
    })();
  }

  /** Heartbeats seen within the lost window. */
  live(now = Date.now()): WorkerHeartbeat[] {
    return [...this.workers.values()].filter((w) => now - Number(w.sentAtMs) < this.lostMs);
  }

  /**
   * Whether the view has watched for a whole lost window, so every live
   * worker has sent a heartbeat since: a class missing from it is gone, not
   * just late (decisions such as re-routing a class's work wait for this).
   */
  warm(now = Date.now()): boolean {
    return now - this.startedAt >= this.lostMs;
  }

  classes(): string[] {
    return [...new Set(this.live().map((w) => w.gpuClass))].sort();
  }

  stop(): void {
    this.stopped = true;
    this.iter?.stop();
  }
}
