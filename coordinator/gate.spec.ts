import { describe, expect, it } from 'vitest';
import { nominalAlpha, stageLevels, type GateStage } from './gate.js';

const ladder: GateStage[] = [
  { z: 1, replicates: 1, maxReplicates: 3, budgetSeconds: 300 },
  { z: 2, replicates: 3, maxReplicates: 3, budgetSeconds: 300 },
  { z: 0, replicates: 2, maxReplicates: 3, budgetSeconds: 300 },
];
const run = { falseMergeRate: 0.05, runHours: 24, runWorkers: 16, maxTrials: 0 };

describe('stageLevels', () => {
  it('keeps the first stage at its z and bounds the run', () => {
    const l = stageLevels(ladder, run);
    expect(l.look[0]).toBeCloseTo(nominalAlpha(1), 10);
    expect(l.candidates).toBe(16 * 24 * 12);
    // Every noise-only candidate that may pass the filter, times its end-to-end level.
    expect(l.reachingGuarded * l.perCandidate).toBeCloseTo(0.05, 8);
    expect(l.stage[1]! * l.stage[2]!).toBeCloseTo(l.perCandidate, 12);
    // The configured shape is kept: confirm stricter than scale, both tighter than configured.
    expect(l.stage[1]!).toBeLessThan(nominalAlpha(2));
    expect(l.stage[2]!).toBeLessThan(0.5);
    expect(l.look[2]).toBeCloseTo(l.stage[2]! / 2, 12);
  });
  it('is looser for a shorter run, and a run with max_trials covers only those', () => {
    const long = stageLevels(ladder, run);
    const bounded = stageLevels(ladder, { ...run, maxTrials: 200 });
    expect(bounded.candidates).toBe(200);
    expect(bounded.stage[1]!).toBeGreaterThan(long.stage[1]!);
  });
  it('never loosens a configured z, and 0 turns the bound off', () => {
    const tiny = stageLevels(ladder, { ...run, runHours: 0.001, runWorkers: 1 });
    expect(tiny.stage[1]).toBeCloseTo(nominalAlpha(2), 12);
    const off = stageLevels(ladder, { ...run, falseMergeRate: 0 });
    expect(off.stage[1]).toBeCloseTo(nominalAlpha(2), 12);
  });
  it('guards the only stage of a one-stage ladder', () => {
    const one = stageLevels([ladder[1]!], run);
    expect(one.candidates * one.perCandidate).toBeCloseTo(0.05, 8);
  });
});
