import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CurvePoint } from '../common/curve.js';
import { MAX_POINTS_PER_MESSAGE, ProgressBatcher, thin } from './progress-batcher.js';

const pt = (i: number): CurvePoint => ({ fraction: i / 100, step: i, value: 4 - i / 100 });

describe('ProgressBatcher', () => {
  let now = 0;
  let sent: CurvePoint[][];
  let b: ProgressBatcher;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 0;
    sent = [];
    b = new ProgressBatcher(
      (ps) => sent.push(ps),
      1000,
      () => now,
    );
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const advance = (ms: number) => {
    now += ms;
    vi.advanceTimersByTime(ms);
  };

  it('sends the first points at once, then at most one message per interval, then the rest on close', () => {
    b.add([pt(1)]);
    expect(sent).toEqual([[pt(1)]]);
    advance(100);
    b.add([pt(2)]);
    advance(100);
    b.add([pt(3), pt(4)]);
    expect(sent).toHaveLength(1);
    advance(799);
    expect(sent).toHaveLength(1);
    advance(1);
    expect(sent).toEqual([[pt(1)], [pt(2), pt(3), pt(4)]]);
    advance(300);
    b.add([pt(5)]);
    b.close();
    expect(sent).toEqual([[pt(1)], [pt(2), pt(3), pt(4)], [pt(5)]]);
    // Nothing after close, and no timer left to fire.
    b.add([pt(6)]);
    advance(5000);
    expect(sent).toHaveLength(3);
    expect(b.sent).toBe(3);
  });

  it('waits out the rest of the interval when its timer fires early', () => {
    b.add([pt(1)]);
    now += 400.5;
    b.add([pt(2)]);
    // The timer (599.5 ms, rounded up to 600) fires while the clock still reads 999.9.
    now += 599.4;
    vi.advanceTimersByTime(600);
    expect(sent).toHaveLength(1);
    advance(1);
    expect(sent).toEqual([[pt(1)], [pt(2)]]);
  });

  it('sends nothing for no points, and survives a failing send', () => {
    const failing = new ProgressBatcher(
      () => {
        throw new Error('connection closed');
      },
      1000,
      () => now,
    );
    failing.add([]);
    expect(failing.sent).toBe(0);
    expect(() => failing.add([pt(1)])).not.toThrow();
    expect(() => failing.close()).not.toThrow();
    expect(failing.sent).toBe(1);
  });

  it('caps one message, keeping the first and the last point', () => {
    b.add([pt(0)]);
    const many = Array.from({ length: 10 * MAX_POINTS_PER_MESSAGE }, (_, i) => pt(i));
    b.add(many);
    b.close();
    expect(sent[1]!.length).toBeLessThanOrEqual(MAX_POINTS_PER_MESSAGE);
    expect(sent[1]!.at(-1)).toEqual(many.at(-1));
  });
});

describe('thin', () => {
  it('spreads points evenly, ends kept', () => {
    const ps = Array.from({ length: 11 }, (_, i) => pt(i));
    expect(thin(ps, 3).map((p) => p.step)).toEqual([0, 5, 10]);
    expect(thin(ps, 20)).toEqual(ps);
    expect(thin(ps, 1)).toEqual([pt(10)]);
  });
});
