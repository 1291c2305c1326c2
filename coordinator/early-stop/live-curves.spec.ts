import { describe, expect, it } from 'vitest';
import type { CurvePoint } from '../../common/curve.js';
import { LiveCurves } from './live-curves.js';
import { requestFailure } from './stopper.js';

const pts = (from: number, to: number, n: number): CurvePoint[] =>
  Array.from({ length: n }, (_, i) => ({ fraction: from + ((to - from) * (i + 1)) / n, step: i, value: 1 }));

describe('LiveCurves', () => {
  it('appends a run’s points and starts over on another worker or a run that went back', () => {
    const c = new LiveCurves({ idleMs: 1000 });
    c.add('t', 'w1', pts(0, 0.2, 4), 0);
    expect(c.add('t', 'w1', pts(0.2, 0.4, 4), 1)).toHaveLength(8);
    // Redelivered to another worker: the old run's points are not this run's.
    expect(c.add('t', 'w2', pts(0, 0.1, 2), 2)).toHaveLength(2);
    expect(c.workerOf('t')).toBe('w2');
    // The same worker restarted the run: fractions went back.
    expect(c.add('t', 'w2', pts(0, 0.05, 1), 3)).toHaveLength(1);
    // Out-of-range points are dropped.
    expect(
      c.add(
        't',
        'w2',
        [
          { fraction: 2, step: 1, value: 1 },
          { fraction: 0.5, step: 1, value: NaN },
        ],
        4,
      ),
    ).toHaveLength(1);
  });

  it('bins a long curve down and keeps at most maxTrials, the longest silent going first', () => {
    const c = new LiveCurves({ idleMs: 1000, maxPoints: 100, compactTo: 20, maxTrials: 2 });
    const p = c.add('a', 'w', pts(0, 1, 101), 0);
    expect(p.length).toBeLessThanOrEqual(20);
    c.add('b', 'w', pts(0, 0.1, 1), 1);
    c.add('a', 'w', [{ fraction: 1, step: 1, value: 1 }], 2);
    c.add('c', 'w', pts(0, 0.1, 1), 3);
    expect(c.size).toBe(2);
    expect(c.points('b')).toHaveLength(0);
    expect(c.points('a').length).toBeGreaterThan(0);
  });

  it('forgets trials silent for idleMs and those forgotten on purpose', () => {
    const c = new LiveCurves({ idleMs: 1000 });
    c.add('a', 'w', pts(0, 0.1, 1), 0);
    c.add('b', 'w', pts(0, 0.1, 1), 900);
    expect(c.sweep(1500)).toEqual(['a']);
    c.forget('b');
    expect(c.size).toBe(0);
  });
});

describe('requestFailure', () => {
  it('tells no responders from a timeout', () => {
    expect(requestFailure(Object.assign(new Error('x'), { isNoResponders: () => true }))).toMatch(
      /no responders/,
    );
    const t = new Error('timeout');
    t.name = 'TimeoutError';
    expect(requestFailure(t)).toBe('no answer in time');
    expect(requestFailure(new Error('closed'))).toBe('closed');
  });
});
