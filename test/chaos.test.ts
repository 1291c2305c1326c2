/**
 * The short chaos run inside the test command (the full one is `npm run
 * chaos`): a local swarm under seeded faults (NATS, gRPC, processes, disk)
 * aimed at trials in flight must lose no trial, count no result twice,
 * merge nothing wrongly, keep the shared branch consistent after every
 * coordinator restart, and end by settling.
 */
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, runChaos } from '../bench/chaos.js';

describe('chaos (short)', () => {
  it('keeps every invariant under faults aimed at trials in flight, and settles by itself', async () => {
    const r = await runChaos({
      trials: 60,
      faults: 16,
      workers: 3,
      seed: 7,
      timeScale: 0.0007,
      timeoutMs: 400_000,
      faultIntervalMs: 1500,
      log: () => undefined,
    });
    expect(r.problems).toEqual([]);
    // It ended because the coordinator said so, not at the timeout.
    expect(r.settled).not.toBe('');
    // Faults come while trials run; a run may settle before the last one is due.
    expect(r.figures.faults).toBeGreaterThanOrEqual(12);
    expect(r.figures.lost).toBe(0);
    expect(r.figures.double_counted).toBe(0);
    expect(r.figures.wrong_merges).toBe(0);
    expect(r.figures.branch_consistent).toBe(1);
    expect(r.figures.finished).toBeGreaterThanOrEqual(60);
    // Not vacuous: something merged, faults hit trials in flight, verdicts were redone.
    expect(r.figures.merges).toBeGreaterThan(0);
    expect(r.figures.faults_in_flight).toBeGreaterThan(0);
    expect(r.figures.verdicts_recomputed).toBeGreaterThan(0);
    // More than one kind of fault was injected (the seed decides which).
    expect(FAULT_KINDS.filter((k) => (r.figures[`faults_${k}`] ?? 0) > 0).length).toBeGreaterThanOrEqual(4);
  }, 450_000);
});
