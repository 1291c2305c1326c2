import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config-load.js';
import { policies } from './policies.js';
import { censoredMedian, speedupOf, summarize } from './summary.js';
import type { SimOutcome } from './swarm.js';

const CONFIG = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'examples',
  'landscape',
  'arswarm.yaml',
);

describe('search policies', () => {
  const base = loadConfig(CONFIG).config;
  const byName = new Map(policies(base, 16).map((p) => [p.name, p]));

  it('prices the landscape top rung above its screen', () => {
    const top = base.stages.at(-1)!;
    expect(Number(top.env.DEPTH)).toBeGreaterThan(Number(base.stages[0]!.env.DEPTH));
    expect(top.budget_seconds).toBeGreaterThan(base.stages[0]!.budget_seconds);
  });

  it('runs the sequential reference at the top rung, its depth and price, on one worker', () => {
    const p = byName.get('sequential_top')!;
    const top = base.stages.at(-1)!;
    expect(p.workers).toBe(1);
    expect(p.config.stages).toHaveLength(1);
    expect(p.config.stages[0]!.env.DEPTH).toBe(top.env.DEPTH);
    expect(p.config.stages[0]!.budget_seconds).toBe(top.budget_seconds);
    expect(p.config.stages[0]!.promote).toMatchObject({ z: 0, min_delta: 0 });
    expect(p.config.stages[0]!.early_stop).toBeUndefined();
    expect(p.config.swarm.prefetch).toBe(1);
  });

  it('runs the screen reference at the first rung and naive greedy at the top on N workers', () => {
    const s = byName.get('sequential_screen')!;
    expect(s.workers).toBe(1);
    expect(s.config.stages[0]!.env.DEPTH).toBe(base.stages[0]!.env.DEPTH);
    expect(s.config.stages[0]!.budget_seconds).toBe(base.stages[0]!.budget_seconds);
    const n = byName.get('naive')!;
    expect(n.workers).toBe(16);
    expect(n.config.stages[0]!.env.DEPTH).toBe(base.stages.at(-1)!.env.DEPTH);
  });

  it('gives both arswarm policies the whole ladder, one the knobs and one the optuna proposer', () => {
    const k = byName.get('arswarm_knobs')!;
    const o = byName.get('arswarm_optuna')!;
    expect(k.config.stages.map((s) => s.name)).toEqual(base.stages.map((s) => s.name));
    expect(o.config.stages.map((s) => s.name)).toEqual(base.stages.map((s) => s.name));
    expect(k.config.proposers.map((p) => p.kind)).toEqual(['knobs']);
    expect(o.config.proposers.map((p) => p.kind)).toEqual(['optuna']);
    expect(k.config.swarm.max_trials).toBe(0);
  });

  it('applies an experiment patch to the arswarm policies only', () => {
    const ps = policies(base, 4, { swarm: { prefetch: 7 } });
    const prefetch = new Map(ps.map((p) => [p.name, p.config.swarm.prefetch]));
    expect(prefetch.get('arswarm_knobs')).toBe(7);
    expect(prefetch.get('arswarm_optuna')).toBe(7);
    expect(prefetch.get('sequential_top')).toBe(1);
  });
});

describe('censored time to target', () => {
  const run = (t: number, reached = true) => ({ timeToTargetS: t, reached });

  it('is uncensored when more than half of the runs reached the target', () => {
    expect(censoredMedian([run(100), run(300), run(1000, false)], 1000)).toEqual({
      median: 300,
      reached: 2,
      runs: 3,
      censored: 0,
    });
  });

  it('counts a run that never reached the target as the budget and flags a censored median', () => {
    expect(censoredMedian([run(100), run(1000, false), run(1000, false)], 1000)).toMatchObject({
      median: 1000,
      reached: 1,
      censored: 1,
    });
    // Even count, half reached: the median averages a time with the budget.
    expect(censoredMedian([run(100), run(5000, false)], 1000)).toMatchObject({ median: 550, censored: 1 });
    expect(censoredMedian([run(100), run(200), run(300), run(0, false)], 1000)).toMatchObject({
      median: 250,
      censored: 0,
    });
  });

  it('marks a speedup censored when either side is', () => {
    const ref = censoredMedian([run(9000), run(12000), run(15000)], 20000);
    const fast = censoredMedian([run(500), run(1000), run(3000)], 20000);
    expect(speedupOf(ref, fast)).toEqual({ speedup: 12, censored: 0 });
    const slow = censoredMedian([run(500), run(0, false), run(0, false)], 20000);
    expect(speedupOf(ref, slow).censored).toBe(1);
  });
});

describe('summarize', () => {
  const outcome = (merges: SimOutcome['merges']): SimOutcome => ({
    startTrue: 1,
    merges,
    trialsByStage: { a: 3, b: 2 },
    baselineTrials: 1,
    busyS: 36000,
    endS: 7200,
    exhausted: false,
    stoppedTrials: 0,
    stopSavedS: 0,
    candidates: 4,
    outcomes: {},
    verdicts: {},
    wallS: 0,
    repo: { memoryDiffs: 0, gitDiffs: 0, verified: 0 },
  });
  const m = (atS: number, trueBefore: number, trueAfter: number, busyS: number) => ({
    atS,
    candidateId: `c${atS}`,
    title: '',
    trueBefore,
    trueAfter,
    busyS,
  });

  it('times the first merge at or below the target and the GPU-hours spent until then', () => {
    // Start 1, optimum 0, fraction 0.9: target 0.1.
    const s = summarize(outcome([m(100, 1, 0.5, 1800), m(200, 0.5, 0.5, 3600), m(300, 0.5, 0.05, 7200)]), {
      optimum: 0,
      fraction: 0.9,
      budgetS: 7200,
    });
    expect(s).toMatchObject({
      reached: true,
      timeToTargetS: 300,
      gpuHoursToTarget: 2,
      falseMerges: 1,
      trials: 5,
    });
    expect(s.gpuHours).toBe(10);
  });

  it('counts a run that misses the target as the budget, all its GPU-hours spent', () => {
    const s = summarize(outcome([m(100, 1, 0.5, 1800)]), { optimum: 0, fraction: 0.9, budgetS: 7200 });
    expect(s).toMatchObject({ reached: false, timeToTargetS: 7200, gpuHoursToTarget: 10 });
  });
});
