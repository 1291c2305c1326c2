/**
 * The calibration benchmark at a small size: the report's shape, the t test
 * holding its nominal level where the old normal-z gate did not, and the
 * run-wide bound the derived levels promise.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../bench/calibration.js';

describe('calibration benchmark (small)', () => {
  it('passes noise at the confirm stage near its nominal level, unlike the old gate', async () => {
    const r = await run([
      '--candidates',
      '4000',
      '--false-merge-rate',
      '0',
      '--merge-every',
      '10',
      '--seed',
      '2',
    ]);
    expect(r.bench).toBe('calibration');
    const f = r.figures;
    for (const s of ['screen', 'confirm', 'scale'])
      for (const k of ['false_pass', 'nominal', 'old_false_pass', 'mean_runs'])
        expect(Number.isFinite(f[`${s}_${k}`]), `${s}_${k}`).toBe(true);
    expect(f.confirm_nominal).toBeCloseTo(0.02275, 4);
    // 4000 draws at 2.3 % over 400 heads (candidates at one head share its baseline's luck).
    expect(f.confirm_false_pass).toBeGreaterThan(0.013);
    expect(f.confirm_false_pass).toBeLessThan(0.033);
    expect(f.confirm_old_false_pass).toBeGreaterThan(f.confirm_false_pass! * 1.5);
    // The screen's extra replicates are looks; their pass rate stays under the Bonferroni bound.
    expect(f.screen_false_pass).toBeLessThan(f.screen_nominal!);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  }, 60_000);

  it('holds the run-wide bound under the default false_merge_rate', async () => {
    const r = await run(['--candidates', '2000', '--seed', '4']);
    const f = r.figures;
    expect(r.params).toMatchObject({ run_hours: 24, run_workers: 16, false_merge_rate: 0.05 });
    expect(f.run_false_merge_nominal).toBeLessThanOrEqual(0.05 + 1e-9);
    expect(f.run_false_merge).toBeLessThanOrEqual(0.05);
    expect(f.old_run_false_merge).toBeGreaterThan(0.5);
    expect(f.confirm_nominal).toBeLessThan(0.001);
  }, 60_000);
});
