import { describe, expect, it } from 'vitest';
import { ArswarmError, Code } from '../../common/errors.js';
import { fakeContext, wholeFileDiff } from '../../test/support/proposal-context.js';
import type { HistoryEntry } from '../journal.js';
import { findKnobs, formatValue, KNOB_RINGS, KnobsProposer, steps } from './knobs.js';

const src = [
  'import os',
  'LEARNING_RATE = 0.001',
  'DEPTH = 4',
  'SEED = 42',
  'N_HEADS = 4  # heads',
  'def f():',
  '    INNER = 3',
].join('\n');

const entry = (id: string, diff: string, status: HistoryEntry['status'] = 'rejected'): HistoryEntry => ({
  id,
  title: id,
  hypothesis: '',
  proposer: 'someone',
  status,
  stage: 'screen',
  passed: [],
  nearMiss: false,
  reason: '',
  parent: 'head0000000000000000000000000000000000000',
  diff,
  createdAtMs: 0,
});

describe('knobs', () => {
  it('finds module-level numeric UPPER_CASE constants only', () => {
    expect(findKnobs('train.py', src).map((k) => k.name)).toEqual([
      'LEARNING_RATE',
      'DEPTH',
      'SEED',
      'N_HEADS',
    ]);
  });

  it('steps rates on a log scale and sizes by integers, finer steps in the second ring', () => {
    const [lr, , , heads] = findKnobs('train.py', src);
    expect(steps(lr!)).toEqual([0.002, 0.0005]);
    expect(steps(heads!)).toEqual([5, 3]);
    expect(steps({ ...heads!, value: 32 })).toEqual([33, 31, 64, 16]);
    expect(steps({ ...heads!, value: 0 })).toEqual([1]);
    expect(steps(lr!, 1).map((v) => formatValue(v, false))).toEqual(['0.001414', '0.0007071']);
    expect(steps(heads!, 1)).toEqual([6, 2]);
    // Further rings: finer for rates, wider for sizes, never an endless supply of the same value.
    expect(steps(lr!, 2).map((v) => formatValue(v, false))).toEqual(['0.001189', '0.0008409']);
    expect(steps(heads!, 3)).toEqual([8, 0]);
    expect(steps(heads!, 4)).toEqual([9]);
    expect(formatValue(0.002, false)).toBe('0.002');
    expect(formatValue(2, false)).toBe('2.0');
  });

  it('never proposes the same setting twice, skips SEED and stage params, then tries finer steps', async () => {
    const p = new KnobsProposer({ seed: 7 });
    const ctx = fakeContext({ files: { 'train.py': src }, stageParams: ['DEPTH'] });
    const titles: string[] = [];
    for (;;) {
      const prop = await p.propose(ctx);
      if (!prop) break;
      expect(titles).not.toContain(prop.title);
      expect(prop.title).not.toMatch(/SEED|DEPTH/);
      expect(prop.diff).toContain('+');
      titles.push(prop.title);
    }
    // Two steps per ring for LEARNING_RATE; N_HEADS = 4 stays positive (4 +- 1..4, then 9..12); coarse ones first.
    expect(titles).toHaveLength(2 * KNOB_RINGS + 12);
    expect(titles.slice(0, 4).every((t) => /-> (0\.002|0\.0005|5|3)$/.test(t))).toBe(true);
    expect(titles.slice(4, 8).every((t) => /-> (0\.001414|0\.0007071|6|2)$/.test(t))).toBe(true);
  });

  it('rebuilds its memory from the ledger history: a restart does not re-propose an evaluated setting', async () => {
    const raised = src.replace('LEARNING_RATE = 0.001', 'LEARNING_RATE = 2e-3  # tried');
    const history = [entry('c00001', wholeFileDiff('train.py', src, raised))];
    const p = new KnobsProposer({ seed: 1 });
    const ctx = fakeContext({ files: { 'train.py': src }, stageParams: ['DEPTH'], history });
    const titles: string[] = [];
    for (let i = 0; i < 3; i++) titles.push((await p.propose(ctx))!.title);
    expect(titles).not.toContain('raise LEARNING_RATE 0.001 -> 0.002');
    expect(titles).toHaveLength(3);
  });

  it('says it is exhausted at a head only once every ring is spent there, not when it merely gave up early', async () => {
    const ctx = fakeContext({ files: { 'train.py': 'LEARNING_RATE = 0.001\n' } });
    const p = new KnobsProposer({ seed: 2 });
    expect(p.exhausted(ctx.head)).toBeUndefined();
    let n = 0;
    while (await p.propose(ctx)) n++;
    expect(n).toBe(2 * KNOB_RINGS);
    expect(p.exhausted(ctx.head)).toBe(`no untried setting of its 1 constants within ${KNOB_RINGS} steps`);
    expect(p.exhausted('another-head')).toBeUndefined();
    // Out of checks with options left (everything refused so far): not exhausted, it tries again later.
    const refusing = fakeContext({
      files: { 'train.py': 'LEARNING_RATE = 0.001\n' },
      refuse: () => {
        throw new ArswarmError(Code.AlreadyExists, 'same effect', { reason: 'near_duplicate' });
      },
    });
    const early = new KnobsProposer({ seed: 2, maxChecks: 3 });
    expect(await early.propose(refusing)).toBeNull();
    expect(early.exhausted(refusing.head)).toBeUndefined();
    const none = new KnobsProposer();
    expect(await none.propose(fakeContext({ files: { 'train.py': 'x = 1\n' } }))).toBeNull();
    expect(none.exhausted(ctx.head)).toBe('no numeric constant to change in the editable files');
  });

  it('skips options the intake refuses (near-duplicates) instead of offering them', async () => {
    const p = new KnobsProposer({ seed: 3 });
    const ctx = fakeContext({
      files: { 'train.py': src },
      stageParams: ['DEPTH'],
      refuse: (_diff, title) => {
        if (title.startsWith('raise'))
          throw new ArswarmError(Code.AlreadyExists, 'same effect', { reason: 'near_duplicate' });
      },
    });
    const titles: string[] = [];
    for (let prop = await p.propose(ctx); prop; prop = await p.propose(ctx)) titles.push(prop.title);
    expect(titles.length).toBeGreaterThan(0);
    expect(titles.every((t) => t.startsWith('lower'))).toBe(true);
  });
});
