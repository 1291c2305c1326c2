/**
 * The learning-curve points of running trials, as workers' progress messages
 * bring them. Memory is bounded three ways: a trial is forgotten when its
 * result is recorded or when no message came for `idleMs` (a worker that
 * died: JetStream redelivers the trial after its ack wait, and the new run
 * starts a new curve), at most `maxTrials` are kept (the longest silent go
 * first), and a trial's points are binned down to `compactTo` when they pass
 * `maxPoints` (the rule's looks average windows of a few percent of the slot,
 * which bins of 1/compactTo keep).
 */
import { binCurve, type CurvePoint } from '../../common/curve.js';
import { withDefaults } from '../../common/option-defaults.js';

export interface LiveCurveOptions {
  /** @default 4096 */
  maxTrials?: number;
  /** @default 2000 */
  maxPoints?: number;
  /** @default 200 */
  compactTo?: number;
  /** Forget a trial after this long without a message (the stage consumers' ack wait). */
  idleMs: number;
}

/** Defaults of LiveCurveOptions' bounds. */
export const LIVE_CURVES_DEFAULTS: Readonly<Required<Omit<LiveCurveOptions, 'idleMs'>>> = {
  maxTrials: 4096,
  maxPoints: 2000,
  compactTo: 200,
};

interface Live {
  workerId: string;
  points: CurvePoint[];
  lastAtMs: number;
}

export class LiveCurves {
  private readonly live = new Map<string, Live>();
  private readonly maxTrials: number;
  private readonly maxPoints: number;
  private readonly compactTo: number;

  constructor(private readonly o: LiveCurveOptions) {
    const bounds = withDefaults(LIVE_CURVES_DEFAULTS, o);
    this.maxTrials = bounds.maxTrials;
    this.maxPoints = bounds.maxPoints;
    this.compactTo = bounds.compactTo;
  }

  get size(): number {
    return this.live.size;
  }

  /**
   * Adds points of a trial's run. A message from another worker means the
   * trial was redelivered: its curve starts over, the old run's points are not
   * this run's.
   */
  add(trialId: string, workerId: string, points: readonly CurvePoint[], nowMs: number): CurvePoint[] {
    let l = this.live.get(trialId);
    if (!l || l.workerId !== workerId) {
      l = { workerId, points: [], lastAtMs: nowMs };
      this.live.delete(trialId);
      this.live.set(trialId, l);
      this.evict();
    } else {
      // Map order is the order of the last message: the first entry is the longest silent.
      this.live.delete(trialId);
      this.live.set(trialId, l);
    }
    l.lastAtMs = nowMs;
    // A run's fraction only grows: one that goes back is a new run of the
    // trial on the same worker (it restarted), whose curve starts over.
    const last = l.points.at(-1);
    if (last && points.length && points[0]!.fraction < last.fraction - 1e-6) l.points = [];
    for (const p of points)
      if (Number.isFinite(p.fraction) && Number.isFinite(p.value) && p.fraction >= 0 && p.fraction <= 1)
        l.points.push(p);
    if (l.points.length > this.maxPoints) l.points = binCurve(l.points, this.compactTo);
    return l.points;
  }

  points(trialId: string): readonly CurvePoint[] {
    return this.live.get(trialId)?.points ?? [];
  }

  workerOf(trialId: string): string | undefined {
    return this.live.get(trialId)?.workerId;
  }

  forget(trialId: string): void {
    this.live.delete(trialId);
  }

  /** Forgets trials silent for `idleMs`; returns their ids. */
  sweep(nowMs: number): string[] {
    const gone: string[] = [];
    for (const [id, l] of this.live) {
      if (nowMs - l.lastAtMs < this.o.idleMs) break;
      gone.push(id);
    }
    for (const id of gone) this.live.delete(id);
    return gone;
  }

  private evict(): void {
    while (this.live.size > this.maxTrials) {
      const first = this.live.keys().next().value;
      if (first === undefined) return;
      this.live.delete(first);
    }
  }
}
