/**
 * A short run of the CLI benchmark (2 timed runs each, 1 from source): the
 * report carries the figures BENCH.md and the issue name, all measured, and
 * `status` succeeded every time from the top of the work tree where `up` ran
 * (the benchmark throws on any failed command).
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../bench/cli.js';

describe('cli benchmark (tiny)', () => {
  it('reports --help and status times from real runs', async () => {
    const report = await run(['--runs', '2', '--source-runs', '1']);
    expect(report.bench).toBe('cli');
    expect(report.params).toEqual({ runs: 2, source_runs: 1 });
    const f = report.figures;
    for (const k of [
      'help_ms_p50',
      'help_ms_p99',
      'status_ms_p50',
      'status_ms_p99',
      'node_ms_p50',
      'help_cpu_ms_p50',
      'status_cpu_ms_p50',
    ])
      expect(f[k], k).toBeGreaterThan(0);
    for (const k of ['help_source_ms_p50', 'status_source_ms_p50']) expect(f[k], k).toBeGreaterThan(0);
    expect(f.help_ms_p99).toBeGreaterThanOrEqual(f.help_ms_p50!);
    expect(f.status_ms_p99).toBeGreaterThanOrEqual(f.status_ms_p50!);
    expect(f.stale_runs).toBeGreaterThanOrEqual(0);
    expect(f.stale_runs).toBeLessThanOrEqual(2);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  }, 240_000);
});
