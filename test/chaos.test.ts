/**
 * The short chaos run inside the test command (the full one is `npm run
 * chaos`): a local swarm under seeded faults of every kind must lose no
 * trial, count no result twice, merge nothing wrongly and keep the shared
 * branch consistent.
 */
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, runChaos } from '../bench/chaos.js';

describe('chaos (short)', () => {
  it('keeps every invariant under faults', async () => {
    const r = await runChaos({
      trials: 60,
      faults: 16,
      workers: 3,
      seed: 7,
      timeScale: 0.0007,
      timeoutMs: 400_000,
      log: () => undefined,
    });
    expect(r.problems).toEqual([]);
    expect(r.figures.faults).toBe(16);
    expect(r.figures.lost).toBe(0);
    expect(r.figures.double_counted).toBe(0);
    expect(r.figures.wrong_merges).toBe(0);
    expect(r.figures.branch_consistent).toBe(1);
    expect(r.figures.finished).toBeGreaterThanOrEqual(60);
    // More than one kind of fault was injected (the seed decides which).
    expect(FAULT_KINDS.filter((k) => (r.figures[`faults_${k}`] ?? 0) > 0).length).toBeGreaterThanOrEqual(4);
  }, 450_000);
});
