import { describe, expect, it } from 'vitest';
import { binCurve, DEFAULT_PROGRESS_PATTERN } from '../common/curve.js';
import { clockFraction, CurveReader, MAX_KEPT_POINTS, wirePoints } from './curve-reader.js';

/** autoresearch's progress line, as train.py prints it (`\r`, no newline). */
const line = (step: number, pct: number, loss: number) =>
  `\rstep ${String(step).padStart(5, '0')} (${pct.toFixed(1)}%) | loss: ${loss.toFixed(6)} | lrm: 1.00 | dt: 301ms | tok/sec: 54,321 | mfu: 39.8% | epoch: 1 | remaining: 12s    `;

const reader = (pattern = DEFAULT_PROGRESS_PATTERN, clock = () => 0.5) =>
  new CurveReader({ pattern, elapsedFraction: clock });

describe('CurveReader', () => {
  it('reads `\\r`-rewritten lines split anywhere by chunk boundaries, the last one at end()', () => {
    const text = [line(1, 10, 3.5), line(2, 20, 3.25), line(3, 30, 3.125)].join('') + '\n---\nval_bpb: 1.0\n';
    // Every split point of the output gives the same points, never a number read half.
    for (let cut = 1; cut < text.length; cut += 7) {
      const r = reader();
      const seen = [...r.push(text.slice(0, cut)), ...r.push(text.slice(cut)), ...r.end()];
      expect(seen, `cut at ${cut}`).toEqual([
        { fraction: 0.1, step: 1, value: 3.5 },
        { fraction: 0.2, step: 2, value: 3.25 },
        { fraction: 0.3, step: 3, value: 3.125 },
      ]);
    }
  });

  it('waits for a line to end before reading it: a cut `loss: 3.2|5` is not 3.2', () => {
    const r = reader();
    expect(r.push('\rstep 00001 (10.0%) | loss: 3.2')).toEqual([]);
    expect(r.push('5 | dt: 3ms')).toEqual([]);
    expect(r.push('\rstep 00002 (20.0%) | loss: 3.0 | dt')).toEqual([
      { fraction: 0.1, step: 1, value: 3.25 },
    ]);
    expect(r.end()).toEqual([{ fraction: 0.2, step: 2, value: 3 }]);
    expect(r.points).toHaveLength(2);
  });

  it('keeps stdout and stderr apart: one stream does not end the other one’s line', () => {
    const r = reader();
    expect(r.push('\rstep 00001 (10.0%) | loss: 3.', 'stdout')).toEqual([]);
    expect(r.push('warning: something\n', 'stderr')).toEqual([]);
    expect(r.push('5 |\r', 'stdout')).toEqual([{ fraction: 0.1, step: 1, value: 3.5 }]);
  });

  it('places a point without pct or fraction by the clock, and skips nan', () => {
    let clock = 0.25;
    const r = reader(String.raw`it (?<step>\d+) loss=(?<value>[0-9.]+|nan)`, () => clock);
    expect(r.push('it 5 loss=2.5\n')).toEqual([{ fraction: 0.25, step: 5, value: 2.5 }]);
    clock = 0.75;
    expect(r.push('it 6 loss=nan\nit 7 loss=2.0\n')).toEqual([{ fraction: 0.75, step: 7, value: 2 }]);
  });

  it('reads a fraction group, and reads nothing without a pattern', () => {
    const r = reader(String.raw`f=(?<fraction>[0-9.]+) v=(?<value>[0-9.]+)`);
    expect(r.push('f=0.4 v=1.5\r')).toEqual([{ fraction: 0.4, step: -1, value: 1.5 }]);
    const none = reader('');
    expect(none.active).toBe(false);
    expect(none.push(line(1, 10, 3) + '\n')).toEqual([]);
    expect(none.curve()).toEqual([]);
  });

  it('runs without a curve on a pattern that does not compile, saying why once', () => {
    const warnings: string[] = [];
    const r = new CurveReader({
      pattern: '(?<value>[0-9',
      elapsedFraction: () => 0,
      onInvalidPattern: (m) => warnings.push(m),
    });
    expect(r.active).toBe(false);
    expect(r.push('12\n13\n')).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not a regular expression/);
    const noValue = new CurveReader({
      pattern: 'loss: ([0-9.]+)',
      elapsedFraction: () => 0,
      onInvalidPattern: (m) => warnings.push(m),
    });
    expect(noValue.active).toBe(false);
    expect(warnings[1]).toMatch(/\(\?<value>/);
  });

  it('bins the whole run with binCurve', () => {
    const r = reader();
    const text = Array.from({ length: 200 }, (_, i) => line(i, (i + 1) / 2, 4 - i / 100)).join('') + '\n';
    r.push(text);
    expect(r.points).toHaveLength(200);
    expect(r.curve()).toEqual(binCurve(r.points));
    expect(r.curve()).toHaveLength(20);
    expect(r.curve().at(-1)!.fraction).toBe(1);
  });

  it('keeps memory bounded on a run printing far more points than a curve needs', () => {
    const r = reader(String.raw`v=(?<value>\d+)`, () => 0.5);
    const n = 3 * MAX_KEPT_POINTS;
    const chunk = Array.from({ length: 1000 }, (_, i) => `v=${i}\n`).join('');
    for (let i = 0; i < n / 1000; i++) r.push(chunk);
    expect(r.points.length).toBeLessThan(MAX_KEPT_POINTS);
    expect(r.points.length).toBeGreaterThan(MAX_KEPT_POINTS / 4);
    // Thinned evenly: the mean stays that of the whole output.
    expect(Math.abs(r.curve()[0]!.value - 499.5)).toBeLessThan(5);
  });

  it('keeps the end of an endless line only', () => {
    const r = reader(String.raw`v=(?<value>\d+)`);
    for (let i = 0; i < 100; i++) r.push('x'.repeat(10_000));
    r.push('v=7\n');
    expect(r.points).toEqual([{ fraction: 0.5, step: -1, value: 7 }]);
  });
});

describe('clockFraction', () => {
  it('is elapsed over the budget, clamped to [0, 1]', () => {
    expect(clockFraction(1500, 3000)).toBe(0.5);
    expect(clockFraction(-5, 3000)).toBe(0);
    expect(clockFraction(4000, 3000)).toBe(1);
    expect(clockFraction(10, 0)).toBe(1);
  });
});

describe('wirePoints', () => {
  it('gives int64 steps, -1 for a step that is no safe integer', () => {
    expect(
      wirePoints([
        { fraction: 0.5, step: 3, value: 1 },
        { fraction: 1, step: 1.5, value: 2 },
      ]),
    ).toEqual([
      { fraction: 0.5, step: 3n, value: 1 },
      { fraction: 1, step: -1n, value: 2 },
    ]);
  });
});
