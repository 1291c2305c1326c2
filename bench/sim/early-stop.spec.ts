import { describe, expect, it } from 'vitest';
import type { CurvePoint } from '../../common/curve.js';
import type { EarlyStopRule } from '../../coordinator/early-stop/rule.js';
import { SimEarlyStop, type BaselineCurve } from './early-stop.js';

const RULE: EarlyStopRule = { after: 0.3, every: 0.1, window: 0.05, alpha: 0.01, minDelta: 0, minDf: 4 };
/** A curve at 1/20 steps: `level` plus a fixed wobble `w` at every point. */
const curve = (level: number, w = 0): CurvePoint[] =>
  Array.from({ length: 20 }, (_, i) => ({ fraction: (i + 1) / 20, step: -1, value: level + w }));
const base = (parent: string, level: number, endS = 0): BaselineCurve => ({
  parent,
  stage: 'screen',
  endS,
  curve: curve(level),
});
/** Three baselines of each of two heads, spread ±0.01 around their head's level. */
function stopper(): SimEarlyStop {
  const s = new SimEarlyStop();
  for (const [parent, level] of [
    ['h1', 2],
    ['h2', 1],
  ] as const)
    for (const d of [-0.01, 0, 0.01]) s.add(base(parent, level + d));
  return s;
}
const judge = (s: SimEarlyStop, candidate: CurvePoint[], running: BaselineCurve[] = []) =>
  s.judge({
    rule: RULE,
    stage: 'screen',
    parent: 'h2',
    startS: 1000,
    budgetS: 300,
    curve: candidate,
    lowerIsBetter: true,
    running,
  });

describe('SimEarlyStop', () => {
  it('stops a clearly worse curve at the point that completes the first look', () => {
    const stop = judge(stopper(), curve(1.5));
    expect(stop?.fraction).toBeCloseTo(0.35);
    expect(stop?.judgement.evidence.look).toBeCloseTo(0.3);
    // df: 2 from this head's baselines + 2 pooled from the earlier head.
    expect(stop?.judgement.evidence.df).toBe(4);
  });

  it('lets a curve no worse than the baselines run its slot', () => {
    expect(judge(stopper(), curve(1))).toBeUndefined();
    expect(judge(stopper(), curve(0.5))).toBeUndefined();
  });

  it('does not stop before the spread rests on min_df degrees of freedom', () => {
    const s = new SimEarlyStop();
    for (const d of [-0.01, 0, 0.01]) s.add(base('h2', 1 + d));
    expect(judge(s, curve(1.5))).toBeUndefined();
  });

  it("uses a running baseline only once it has finished by the look's moment", () => {
    const s = new SimEarlyStop();
    for (const d of [-0.01, 0, 0.01]) s.add(base('h1', 2 + d));
    s.add(base('h2', 1.01));
    s.add(base('h2', 0.99));
    // The third baseline of h2 finishes at 1000 + 0.45 * 300 = 1135 s: the look at 0.4 (decided at 0.45) sees it.
    const late = base('h2', 1, 1135);
    const stop = judge(s, curve(1.5), [late]);
    expect(stop?.fraction).toBeCloseTo(0.45);
    expect(stop?.judgement.evidence.df).toBe(4);
  });
});
