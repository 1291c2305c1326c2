/**
 * Batches a running trial's new curve points into at most one message per
 * interval: a point is sent at once when the previous message is older than
 * the interval, else with the next message when the interval is up; close()
 * sends what is left. Progress is advisory: a failing send is the sender's to
 * swallow, and nothing here ever throws into the run.
 */
import { performance } from 'node:perf_hooks';
import type { CurvePoint } from '../common/curve.js';

/** Points in one message at most (a NATS message is 1 MiB by default; a point is ~25 bytes). */
export const MAX_POINTS_PER_MESSAGE = 2000;

/** At most `max` points spread evenly over `points`, the first and the last kept. */
export function thin(points: readonly CurvePoint[], max: number): CurvePoint[] {
  if (points.length <= max) return [...points];
  if (max <= 1) return points.slice(-1);
  const out: CurvePoint[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))]!);
  return out;
}

export class ProgressBatcher {
  private pending: CurvePoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastSentAt = -Infinity;
  private closed = false;
  /** Messages handed to `send`. */
  sent = 0;

  constructor(
    private readonly send: (points: CurvePoint[]) => void,
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** New points of the run. */
  add(points: readonly CurvePoint[]): void {
    if (this.closed || points.length === 0) return;
    for (const p of points) this.pending.push(p);
    // Bounded memory whatever the run prints between two messages.
    if (this.pending.length > 4 * MAX_POINTS_PER_MESSAGE)
      this.pending = thin(this.pending, MAX_POINTS_PER_MESSAGE);
    if (!this.timer) this.flushOrWait();
  }

  /**
   * Sends now if the interval is up, else waits for the rest of it. A timer
   * may fire up to a millisecond early (Node truncates fractional delays),
   * so the elapsed time is checked again when it fires.
   */
  private flushOrWait(): void {
    const wait = this.lastSentAt + this.intervalMs - this.now();
    if (wait <= 0) return this.flush();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.flushOrWait();
    }, Math.ceil(wait));
  }

  /** The run ended: sends what is pending; later points are dropped. */
  close(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    this.closed = true;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = thin(this.pending, MAX_POINTS_PER_MESSAGE);
    this.pending = [];
    this.lastSentAt = this.now();
    this.sent++;
    try {
      this.send(batch);
    } catch {
      // advisory: the sender logs its own failures
    }
  }
}
