import { describe, expect, it } from 'vitest';
import { findKnobs, formatValue, KnobsProposer, steps } from './knobs.js';

const src = [
  'import os',
  'LEARNING_RATE = 0.001',
  'DEPTH = 4',
  'SEED = 42',
  'N_HEADS = 4  # heads',
  'def f():',
  '    INNER = 3',
].join('\n');

describe('knobs', () => {
  it('finds module-level numeric UPPER_CASE constants only', () => {
    expect(findKnobs('train.py', src).map((k) => k.name)).toEqual([
      'LEARNING_RATE',
      'DEPTH',
      'SEED',
      'N_HEADS',
    ]);
  });
  it('steps rates on a log scale and integers by one', () => {
    const [lr, , , heads] = findKnobs('train.py', src);
    expect(steps(lr!)).toEqual([0.002, 0.0005]);
    expect(steps(heads!)).toEqual([5, 3]);
    expect(formatValue(0.002, false)).toBe('0.002');
    expect(formatValue(2, false)).toBe('2.0');
  });
  it('never proposes the same setting twice and skips SEED and stage params', async () => {
    const p = new KnobsProposer({ seed: 7 });
    const ctx = {
      head: 'h',
      editable: ['train.py'],
      readFile: async () => src,
      stageParams: new Set(['DEPTH']),
    };
    const titles = new Set<string>();
    for (;;) {
      const prop = await p.propose(ctx);
      if (!prop) break;
      expect(titles.has(prop.title)).toBe(false);
      expect(prop.title).not.toMatch(/SEED|DEPTH/);
      titles.add(prop.title);
    }
    expect(titles.size).toBe(4);
  });
});
