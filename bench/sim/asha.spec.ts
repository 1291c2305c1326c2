import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config-load.js';
import { AshaLadder, rungsOf } from './asha.js';

const LANDSCAPE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'examples',
  'landscape',
  'arswarm.yaml',
);

describe('AshaLadder promotions (eta 3)', () => {
  it('promotes the best unpromoted of the top floor(n/3) as soon as it ranks there', () => {
    const l = new AshaLadder(2, 3);
    l.record('a', 0, 1);
    l.record('b', 0, 2);
    expect(l.promotion()).toBeUndefined(); // floor(2/3) = 0: nobody yet
    l.record('c', 0, 3);
    expect(l.promotion()).toEqual({ id: 'a', rung: 1 }); // floor(3/3) = 1: a
    expect(l.promotion()).toBeUndefined(); // a already went up
    l.record('d', 0, 0.5);
    expect(l.promotion()).toEqual({ id: 'd', rung: 1 }); // d now tops the rung
    l.record('e', 0, 5);
    l.record('f', 0, 6);
    expect(l.promotion()).toBeUndefined(); // top 2 of 6 are d and a, both up
    l.record('g', 0, 0.7);
    // Top 2 of 7 are now d and g: g goes up. Asynchronous: a went up when it
    // ranked first, though it is out of the top 2 now.
    expect(l.promotion()).toEqual({ id: 'g', rung: 1 });
    expect(
      l
        .ranked(0)
        .slice(0, 3)
        .map((r) => r.id),
    ).toEqual(['d', 'g', 'a']);
  });

  it('takes the second-ranked when the first is promoted, and never a failed run', () => {
    const l = new AshaLadder(2, 3);
    for (const [id, v] of [
      ['x', NaN],
      ['y', NaN],
      ['z', NaN],
    ] as const)
      l.record(id, 0, v);
    expect(l.promotion()).toBeUndefined();
    expect(l.ranked(0).map((r) => r.id)).toEqual(['x', 'y', 'z']);
    for (const [id, v] of [
      ['p', 0.3],
      ['q', 0.2],
      ['r', 0.9],
    ] as const)
      l.record(id, 0, v);
    // n = 6: top 2 are q then p.
    expect(l.promotion()).toEqual({ id: 'q', rung: 1 });
    expect(l.promotion()).toEqual({ id: 'p', rung: 1 });
    expect(l.promotion()).toBeUndefined();
  });

  it('looks at higher rungs first', () => {
    const l = new AshaLadder(3, 3);
    for (const [id, v] of Object.entries({ a: 1, b: 2, c: 3 })) {
      l.record(id, 0, v);
      l.record(id, 1, v);
    }
    expect(l.promotion()).toEqual({ id: 'a', rung: 2 });
    expect(l.promotion()).toEqual({ id: 'a', rung: 1 });
  });

  it('ranks the other way for a metric to maximize', () => {
    const l = new AshaLadder(2, 3, false);
    l.record('a', 0, 1);
    l.record('b', 0, 2);
    l.record('c', 0, 3);
    expect(l.promotion()).toEqual({ id: 'c', rung: 1 });
  });

  it('refuses a ladder it cannot run', () => {
    expect(() => new AshaLadder(0)).toThrow(/at least one rung/);
    expect(() => new AshaLadder(2, 1)).toThrow(/reduction factor/);
    expect(() => new AshaLadder(2).record('a', 2, 1)).toThrow(/no rung 2/);
  });
});

describe('rungsOf', () => {
  it("takes the landscape ladder's distinct depth and slot levels, in order", () => {
    const { config } = loadConfig(LANDSCAPE);
    expect(rungsOf(config)).toEqual([
      { stageIndex: 0, depth: 4, budgetS: 300 },
      { stageIndex: 2, depth: 8, budgetS: 600 },
    ]);
  });
});
