/**
 * A short, deterministic run of the search benchmark (1 seed, 2 simulated
 * hours, 4 workers): the coordinator's real scheduler, ladder, intake and
 * merger against the landscape's own model, with simulated time. Checks the
 * structure of the report, and facts of the policies that a broken harness
 * or ladder would violate.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES } from '../../bench/sim/policies.js';
import { run } from '../../bench/search.js';
import type { BenchReport } from '../../bench/report.js';

const FIGURES = ['time_to_target_s', 'final_true_metric', 'merges', 'false_merges', 'gpu_hours'];
const HOURS = 2;

describe('search benchmark (tiny)', () => {
  let report: BenchReport;

  it('runs every policy on the simulated clock', async () => {
    report = await run([
      '--seeds',
      '1',
      '--hours',
      String(HOURS),
      '--sequential-hours',
      String(HOURS),
      '--workers',
      '4',
    ]);
    expect(report.bench).toBe('search');
    expect(report.params).toMatchObject({ seeds: 1, hours: HOURS, workers: 4, top_depth: 8 });
  }, 120_000);

  it('reports every figure BENCH.md names, finite', () => {
    const f = report.figures;
    for (const p of DEFAULT_POLICIES)
      for (const name of FIGURES) expect(Number.isFinite(f[`${p}_${name}`]), `${p}_${name}`).toBe(true);
    expect(Number.isFinite(f.speedup_vs_sequential)).toBe(true);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('never reports a time to target beyond the budget', () => {
    for (const p of DEFAULT_POLICIES) {
      expect(report.figures[`${p}_time_to_target_s`]).toBeGreaterThanOrEqual(0);
      expect(report.figures[`${p}_time_to_target_s`]).toBeLessThanOrEqual(HOURS * 3600);
    }
  });

  it('merges no more false changes with the ladder than with the naive greedy rule', () => {
    const f = report.figures;
    expect(f.arswarm_knobs_false_merges).toBeLessThanOrEqual(f.naive_false_merges!);
  });

  it('keeps the GPU-hours within workers x budget and the sequential run on one worker', () => {
    const f = report.figures;
    for (const p of ['sequential_top', 'sequential_screen']) {
      expect(f[`${p}_gpu_hours`]).toBeGreaterThan(0);
      expect(f[`${p}_gpu_hours`]).toBeLessThanOrEqual(HOURS);
    }
    for (const p of ['naive', 'arswarm_knobs']) expect(f[`${p}_gpu_hours`]).toBeLessThanOrEqual(4 * HOURS);
    // The sequential rule at the top rung runs one trial at a time: about one per 605 s slot (600 s + overhead).
    expect(f.sequential_top_trials).toBeLessThanOrEqual(Math.ceil((HOURS * 3600) / 605));
    expect(f.sequential_screen_trials).toBeLessThanOrEqual(Math.ceil((HOURS * 3600) / 305));
  });

  it('compares arswarm with ASHA and measures mid-slot stopping on the same seeds', () => {
    const f = report.figures;
    expect(Number.isFinite(f.speedup_vs_asha)).toBe(true);
    expect([0, 1]).toContain(f.speedup_vs_asha_censored);
    // ASHA's rungs are the ladder's DEPTH 4 and DEPTH 8 levels: its trials are all priced ones.
    expect(f.asha_trials).toBeGreaterThan(0);
    expect(f.asha_gpu_hours).toBeLessThanOrEqual(4 * HOURS);
    // Stops only happen with early_stop on: the control run has none.
    expect(f.arswarm_knobs_nostop_stopped_trials).toBe(0);
    expect(f.early_stop_pairs).toBe(1);
    for (const k of [
      'early_stop_gpu_hours_saved_fraction',
      'arswarm_knobs_final_stop',
      'arswarm_knobs_final_nostop',
    ])
      expect(Number.isFinite(f[k]), k).toBe(true);
    expect(f.early_stop_slot_hours_saved_fraction).toBeGreaterThanOrEqual(0);
    expect(f.early_stop_slot_hours_saved_fraction).toBeLessThan(1);
    expect(f.early_stop_final_delta).toBeCloseTo(
      f.arswarm_knobs_final_stop! - f.arswarm_knobs_final_nostop!,
      12,
    );
  });

  it('improves the true metric under every policy, and measures against a real optimum', () => {
    const f = report.figures;
    expect(f.optimum_true_metric).toBeLessThan(f.target_true_metric!);
    expect(f.target_true_metric).toBeLessThan(f.start_true_metric!);
    expect(f.arswarm_knobs_final_true_metric).toBeLessThan(f.start_true_metric!);
    expect(f.arswarm_knobs_final_true_metric).toBeGreaterThanOrEqual(f.optimum_true_metric!);
    expect(f.arswarm_knobs_merges).toBeGreaterThan(0);
  });
});
