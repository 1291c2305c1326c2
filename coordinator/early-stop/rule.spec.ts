import { describe, expect, it } from 'vitest';
import {
  binCurve,
  compileProgressPattern,
  DEFAULT_PROGRESS_PATTERN,
  pointsIn,
  type CurvePoint,
} from '../../common/curve.js';
import { seededRandom } from '../../common/random.js';
import { normalQuantile } from '../distributions.js';
import { earlyStopRuleOf, judgeCurve, looksOf, spreadAt, type EarlyStopRule } from './rule.js';

const RULE: EarlyStopRule = { after: 0.3, every: 0.1, window: 0.05, alpha: 0.01, minDelta: 0, minDf: 4 };

/** A curve of 40 points: level + decay + Gaussian noise of sd `sd` per run (one draw) and per point. */
function curve(rand: () => number, level: number, runSd: number, pointSd: number, upTo = 1): CurvePoint[] {
  const gauss = () => normalQuantile(Math.min(1 - 1e-12, Math.max(1e-12, rand())));
  const run = runSd * gauss();
  const out: CurvePoint[] = [];
  for (let i = 1; i <= 40 && i / 40 <= upTo + 1e-9; i++) {
    const f = i / 40;
    out.push({
      fraction: f,
      step: i * 10,
      value: (level + run) * (1 + 2 * Math.exp(-5 * f)) + pointSd * gauss(),
    });
  }
  return out;
}

describe('early-stop rule', () => {
  it('looks from after every `every` below 1', () => {
    expect(looksOf(RULE)).toEqual([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(earlyStopRuleOf({})).toBeUndefined();
    expect(
      earlyStopRuleOf({
        early_stop: { after: 0.5, every: 0.25, window: 0.05, alpha: 0.05, min_delta: 0, min_df: 2 },
      }),
    ).toMatchObject({ after: 0.5, every: 0.25, minDf: 2 });
  });

  it('stops a clearly worse curve, with the evidence, and not before `after`', () => {
    const rand = seededRandom(1);
    const baselines = Array.from({ length: 6 }, () => curve(rand, 1, 0.01, 0.005));
    const bad = curve(rand, 1.2, 0.01, 0.005);
    const early = judgeCurve(
      RULE,
      bad.filter((p) => p.fraction <= 0.3),
      baselines,
      true,
    );
    expect(early.stop).toBe(false);
    const j = judgeCurve(
      RULE,
      bad.filter((p) => p.fraction <= 0.35),
      baselines,
      true,
    );
    expect(j.stop).toBe(true);
    if (!j.stop) return;
    expect(j.evidence.look).toBe(0.3);
    expect(j.evidence.worseBy).toBeGreaterThan(j.evidence.threshold);
    expect(j.evidence.df).toBe(5);
    expect(j.reason).toMatch(/stopped at 30% of the slot/);
    // Higher is better: the same curve is the better one.
    expect(judgeCurve(RULE, bad, baselines, false).stop).toBe(false);
  });

  it('never stops without enough degrees of freedom, and a prior supplies them', () => {
    const rand = seededRandom(2);
    const baselines = Array.from({ length: 2 }, () => curve(rand, 1, 0.01, 0.005));
    const bad = curve(rand, 1.5, 0.01, 0.005);
    const j = judgeCurve(RULE, bad, baselines, true);
    expect(j).toMatchObject({ stop: false });
    expect(j.reason).toMatch(/df 1 < 4/);
    const others = Array.from({ length: 8 }, () => curve(rand, 1.01, 0.01, 0.005));
    expect(judgeCurve(RULE, bad, baselines, true, (look) => spreadAt(others, look, RULE.window)).stop).toBe(
      true,
    );
  });

  it('stops a noise-only change at most about alpha of the time', () => {
    const rand = seededRandom(3);
    let stops = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const baselines = Array.from({ length: 3 }, () => curve(rand, 1, 0.01, 0.004));
      const prior = Array.from({ length: 4 }, () => curve(rand, 1, 0.01, 0.004));
      const same = curve(rand, 1, 0.01, 0.004);
      if (judgeCurve(RULE, same, baselines, true, (l) => spreadAt(prior, l, RULE.window)).stop) stops++;
    }
    // Bonferroni over 7 correlated looks is conservative: well under alpha = 1%.
    expect(stops / n).toBeLessThan(0.015);
  });
});

describe('curves', () => {
  it('reads autoresearch progress lines, skipping nan, and bins them', () => {
    const re = compileProgressPattern(DEFAULT_PROGRESS_PATTERN);
    const text =
      '\rstep 00010 (10.0%) | loss: 3.500000 | lrm: 1.00 | dt: 300ms\rstep 00020 (20.0%) | loss: 3.25 | dt: 1ms' +
      '\rstep 00030 (30.0%) | loss: nan | remaining: 1s';
    const pts = pointsIn(re, text, () => 0.5);
    expect(pts).toEqual([
      { fraction: 0.1, step: 10, value: 3.5 },
      { fraction: 0.2, step: 20, value: 3.25 },
    ]);
    const many = Array.from({ length: 100 }, (_, i) => ({ fraction: (i + 1) / 100, step: i, value: i }));
    const binned = binCurve(many, 20);
    expect(binned).toHaveLength(20);
    expect(binned[0]).toEqual({ fraction: 0.04, step: 3, value: 1.5 });
  });

  it('takes the fraction from the clock when the line has none, and refuses a pattern without value', () => {
    const re = compileProgressPattern(String.raw`it (?<step>\d+) train_loss=(?<value>[0-9.]+)`);
    expect(pointsIn(re, 'it 5 train_loss=2.5\nit 6 train_loss=2.4\n', () => 0.25)).toEqual([
      { fraction: 0.25, step: 5, value: 2.5 },
      { fraction: 0.25, step: 6, value: 2.4 },
    ]);
    expect(() => compileProgressPattern('loss: ([0-9.]+)')).toThrow(/named group \(\?<value>/);
    expect(() => compileProgressPattern('(?<value>[')).toThrow(/not a regular expression/);
  });
});
