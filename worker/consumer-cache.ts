/**
 * Which stage consumers exist. A pull from a consumer that does not exist gets
 * no reply at all (the server drops it), so the worker asks JetStream first
 * and remembers the answer for a while instead of waiting out a timeout.
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';

/** How long an answer is trusted. @default 10000 */
export const DEFAULT_CONSUMER_CACHE_MS = 10_000;
/** How soon a consumer found missing is looked up again. */
export const MISSING_CONSUMER_RECHECK_MS = 1000;

export class ConsumerCache {
  private readonly known = new Map<string, { exists: boolean; at: number }>();
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly ttlMs = DEFAULT_CONSUMER_CACHE_MS,
  ) {}

  /** Whether the durable consumer exists (cached); errors other than "not found" count as existing. */
  async exists(consumer: string): Promise<boolean> {
    const hit = this.known.get(consumer);
    // A missing consumer is looked up again soon: the coordinator creates
    // class-specific queues on demand and they must be noticed quickly.
    if (
      hit &&
      Date.now() - hit.at < (hit.exists ? this.ttlMs : Math.min(this.ttlMs, MISSING_CONSUMER_RECHECK_MS))
    )
      return hit.exists;
    let p = this.pending.get(consumer);
    if (!p) {
      p = this.jsm.consumers
        .info(this.stream, consumer)
        .then(
          () => true,
          (err: unknown) =>
            !(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound),
        )
        .then((exists) => {
          this.known.set(consumer, { exists, at: Date.now() });
          return exists;
        })
        .finally(() => this.pending.delete(consumer));
      this.pending.set(consumer, p);
    }
    return p;
  }

  /** Forgets a consumer (e.g. after a pull from it went unanswered). */
  forget(consumer: string): void {
    this.known.delete(consumer);
  }
}
