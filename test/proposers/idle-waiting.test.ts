/** The idle-waiting measure itself: it must see starvation where there is some, and only there. */
import { describe, expect, it } from 'vitest';
import { allStartedAt, idleWaiting, merge, type TrialSpan } from '../support/idle-waiting.js';

describe('idle waiting', () => {
  it('merges intervals', () => {
    expect(
      merge([
        [5, 7],
        [0, 2],
        [1, 3],
        [7, 8],
        [9, 9],
      ]),
    ).toEqual([
      [0, 3],
      [5, 8],
    ]);
  });

  it('counts idle workers beyond the trials waiting for them, not dispatch gaps', () => {
    const spans: TrialSpan[] = [
      { workerId: 'w1', queuedAtMs: 0, startedAtMs: 0, finishedAtMs: 100 },
      // Queued at 90, taken by w1 at 150: covers one idle worker from 100 to 150.
      { workerId: 'w1', queuedAtMs: 90, startedAtMs: 150, finishedAtMs: 250 },
      { workerId: 'w2', queuedAtMs: 0, startedAtMs: 0, finishedAtMs: 100 },
      { workerId: 'w2', queuedAtMs: 180, startedAtMs: 180 },
    ];
    const r = idleWaiting(spans, ['w1', 'w2'], 0, 250);
    // 100-150: two idle, one trial waiting -> one starved (50); 150-180: w2 idle, nothing waiting (30).
    expect(r.idleWaitingMs).toBe(80);
    expect(r.idleMs).toBe(50 + 80);
    expect(r.busyMs).toBe(100 + 100 + 100 + 70);
    expect(r.workerMs).toBe(500);
    expect(allStartedAt(spans, ['w1', 'w2'])).toBe(0);
    expect(allStartedAt(spans, ['w1', 'w3'])).toBeUndefined();
  });

  it('does not count a worker taking the next trial straight away', () => {
    const spans: TrialSpan[] = [
      { workerId: 'w1', queuedAtMs: 0, startedAtMs: 0, finishedAtMs: 100 },
      { workerId: 'w1', queuedAtMs: 50, startedAtMs: 105, finishedAtMs: 200 },
    ];
    expect(idleWaiting(spans, ['w1'], 0, 200).idleWaitingMs).toBe(0);
  });

  it('lets a trial nobody takes cover one idle worker only', () => {
    const spans: TrialSpan[] = [{ queuedAtMs: 0 }];
    expect(idleWaiting(spans, ['w1', 'w2', 'w3'], 0, 100).idleWaitingMs).toBe(200);
    expect(idleWaiting([], ['w1'], 1000, 3000).idleWaitingMs).toBe(2000);
  });
});
