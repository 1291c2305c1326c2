/**
 * Test and benchmark support: how long workers sat idle waiting for work —
 * the time GPUs wait for proposals — measured from the ledger's trial
 * timestamps (queued by the coordinator, started and finished by a worker).
 * Idle time covered by a trial waiting in a queue is dispatch overhead, not
 * waiting for proposals, and is not counted: at each moment, only the idle
 * workers beyond the number of waiting trials count.
 */
import type { LedgerState } from '../../coordinator/ledger/state.js';

/** One trial's life: queued, then started and finished by one worker. */
export interface TrialSpan {
  queuedAtMs: number;
  workerId?: string;
  startedAtMs?: number;
  finishedAtMs?: number;
}

export interface IdleReport {
  /** Window length x workers, ms. */
  workerMs: number;
  busyMs: number;
  /** Idle, for any reason. */
  idleMs: number;
  /** Idle beyond the trials waiting in the queues: waiting for work. */
  idleWaitingMs: number;
}

type Interval = [number, number];

/** Sorted, non-overlapping union. */
export function merge(xs: Interval[]): Interval[] {
  const s = xs.filter(([a, b]) => b > a).sort((p, q) => p[0] - q[0]);
  const out: Interval[] = [];
  for (const [a, b] of s) {
    const last = out.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

const length = (xs: Interval[]) => xs.reduce((n, [a, b]) => n + (b - a), 0);

/** The parts of [from, to) not covered by `xs` (merged). */
function complement(xs: Interval[], from: number, to: number): Interval[] {
  const out: Interval[] = [];
  let at = from;
  for (const [a, b] of xs) {
    if (a > at) out.push([at, Math.min(a, to)]);
    at = Math.max(at, b);
    if (at >= to) break;
  }
  if (at < to) out.push([at, to]);
  return out.filter(([a, b]) => b > a);
}

/**
 * Idle and idle-waiting time of `workers` over [fromMs, toMs). At each moment,
 * the idle workers beyond the number of trials waiting in the queues are
 * waiting for work (a trial that no worker takes yet, e.g. on a queue the
 * workers have not noticed, covers one idle worker, not all of them).
 */
export function idleWaiting(
  spans: readonly TrialSpan[],
  workers: readonly string[],
  fromMs: number,
  toMs: number,
): IdleReport {
  const clip = ([a, b]: Interval): Interval => [Math.max(a, fromMs), Math.min(b, toMs)];
  // +1/-1 steps of the idle-worker count and of the waiting-trial count.
  const steps: { at: number; idle: number; waiting: number }[] = [];
  for (const s of spans) {
    const [a, b] = clip([s.queuedAtMs, s.startedAtMs ?? toMs]);
    if (b > a) steps.push({ at: a, idle: 0, waiting: 1 }, { at: b, idle: 0, waiting: -1 });
  }
  const report: IdleReport = { workerMs: 0, busyMs: 0, idleMs: 0, idleWaitingMs: 0 };
  for (const w of workers) {
    const busy = merge(
      spans
        .filter((s) => s.workerId === w && s.startedAtMs !== undefined)
        .map((s) => clip([s.startedAtMs!, s.finishedAtMs ?? toMs])),
    );
    const idle = complement(busy, fromMs, toMs);
    for (const [a, b] of idle) steps.push({ at: a, idle: 1, waiting: 0 }, { at: b, idle: -1, waiting: 0 });
    report.workerMs += toMs - fromMs;
    report.busyMs += length(busy);
    report.idleMs += length(idle);
  }
  steps.sort((x, y) => x.at - y.at);
  let idle = 0;
  let waiting = 0;
  let at = fromMs;
  for (const st of steps) {
    report.idleWaitingMs += Math.max(0, idle - waiting) * (st.at - at);
    at = st.at;
    idle += st.idle;
    waiting += st.waiting;
  }
  report.idleWaitingMs += Math.max(0, idle - waiting) * (toMs - at);
  return report;
}

/** Every trial of the ledger as a span. */
export function trialSpans(state: LedgerState): TrialSpan[] {
  return [...state.trials.values()].map((tv) => ({
    queuedAtMs: Number(tv.trial.queuedAtMs),
    workerId: tv.result?.workerId || tv.started?.workerId,
    startedAtMs: tv.result
      ? Number(tv.result.startedAtMs)
      : tv.started
        ? Number(tv.started.startedAtMs)
        : undefined,
    finishedAtMs: tv.result ? Number(tv.result.finishedAtMs) : undefined,
  }));
}

/** When every one of `workers` had started its first trial (the measurement window opens). */
export function allStartedAt(spans: readonly TrialSpan[], workers: readonly string[]): number | undefined {
  let latest = 0;
  for (const w of workers) {
    const first = Math.min(
      ...spans.filter((s) => s.workerId === w && s.startedAtMs !== undefined).map((s) => s.startedAtMs!),
    );
    if (!Number.isFinite(first)) return undefined;
    latest = Math.max(latest, first);
  }
  return latest;
}
