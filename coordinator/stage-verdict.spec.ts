import { describe, expect, it } from 'vitest';
import { gate, judge, type StageRule } from './stage-verdict.js';
import { studentTQuantile } from './distributions.js';
import { improvement } from './stats.js';

const rule: StageRule = { name: 'screen', replicates: 1, maxReplicates: 3, z: 2, minDelta: 0 };
const base = [
  { seed: 1, metric: 1.0 },
  { seed: 2, metric: 1.002 },
  { seed: 3, metric: 0.998 },
];

describe('improvement', () => {
  it('pairs by seed and signs by direction', () => {
    const imp = improvement([{ seed: 1, metric: 0.99 }], base, true);
    expect(imp.paired).toBe(1);
    expect(imp.delta).toBeCloseTo(0.01, 10);
    const max = improvement([{ seed: 1, metric: 0.99 }], base, false);
    expect(max.delta).toBeCloseTo(-0.01, 10);
  });
  it('uses the baseline spread until enough pairs exist', () => {
    const imp = improvement([{ seed: 9, metric: 0.99 }], base, true);
    expect(imp.paired).toBe(0);
    expect(imp.sigma).toBeCloseTo(0.002 * Math.sqrt(1 + 1 / 3), 6);
  });
});

describe('judge', () => {
  it('waits for the baseline', () => {
    expect(judge(rule, [{ seed: 1, metric: 0.9 }], base.slice(0, 2), 3, true).kind).toBe('wait');
  });
  it('promotes a clear win and rejects a loss', () => {
    expect(judge(rule, [{ seed: 1, metric: 0.98 }], base, 3, true).kind).toBe('promote');
    expect(judge(rule, [{ seed: 1, metric: 1.01 }], base, 3, true).kind).toBe('reject');
  });
  it('asks for more replicates on a small positive delta, then rejects at the cap', () => {
    expect(judge(rule, [{ seed: 1, metric: 0.999 }], base, 3, true).kind).toBe('more');
    const three = [
      { seed: 1, metric: 0.9995 },
      { seed: 2, metric: 1.0025 },
      { seed: 3, metric: 0.997 },
    ];
    expect(judge(rule, three, base, 3, true).kind).toBe('reject');
  });
  it('honours min_delta', () => {
    const strict = { ...rule, minDelta: 0.05 };
    expect(judge(strict, [{ seed: 1, metric: 0.98 }], base, 3, true).kind).not.toBe('promote');
  });
});

describe('gate', () => {
  const three = [
    { seed: 1, metric: 0.995 },
    { seed: 2, metric: 0.9965 },
    { seed: 3, metric: 0.9925 },
  ];
  const confirm: StageRule = { name: 'confirm', replicates: 3, maxReplicates: 3, z: 2, minDelta: 0 };
  it('uses the t quantile of the pooled degrees of freedom, not z', () => {
    const g = gate(confirm, three, base, true);
    // Own paired residuals (2 df) + the baseline's spread (2 df).
    expect(g.df).toBe(4);
    expect(g.critical).toBeCloseTo(studentTQuantile(1 - g.alpha, 4), 10);
    expect(g.critical).toBeGreaterThan(2);
    expect(g.threshold).toBeCloseTo(g.critical * g.sigma, 12);
  });
  it('pools outside noise evidence: more df, a lower critical value', () => {
    const alone = gate(confirm, three, base, true);
    const pooled = gate(confirm, three, base, true, { paired: { ss: 40 * 4e-6, df: 40 } });
    expect(pooled.df).toBe(44);
    expect(pooled.critical).toBeLessThan(alone.critical);
  });
  it('cannot promote without any noise estimate unless the level asks for none', () => {
    const one = [{ seed: 1, metric: 1.0 }];
    expect(judge(rule, [{ seed: 1, metric: 0.9 }], one, 1, true).kind).not.toBe('promote');
    const strictlyLower = { ...rule, z: 0 };
    expect(judge(strictlyLower, [{ seed: 1, metric: 0.9 }], one, 1, true).kind).toBe('promote');
  });
  it('says which test it ran', () => {
    const j = judge(confirm, three, base, 3, true);
    expect(j.reason).toMatch(/t \d\.\d+ at α 0\.0228 with df 4/);
  });
});
