/**
 * A short run of the scale benchmark: the real coordinator (child process)
 * and nats-server, 50 simulated workers for 10 s, then no new candidates
 * until every queued trial has its result, and a restart over the ledger as
 * it is. Checks the report's shape and that no trial was lost or counted twice.
 */
import { describe, expect, it } from 'vitest';
import { runScale, type ScaleResult } from '../../bench/scale.js';

/** Figures ../shared/BENCH.md names for `scale`. */
const FIGURES = [
  'workers',
  'results_per_s',
  'dispatch_p50_ms',
  'dispatch_p99_ms',
  'coordinator_rss_mb',
  'coordinator_cpu_cores',
  'ledger_trials',
  'recovery_s',
];

describe('scale benchmark (tiny)', () => {
  let r: ScaleResult;

  it('runs 50 simulated workers against the real coordinator and restarts it', async () => {
    r = await runScale({
      workers: 50,
      trialS: 1,
      durationS: 10,
      warmupS: 15,
      ledgerTrials: 0,
      fetchCode: true,
      settle: true,
      log: () => undefined,
    });
    expect(r.problems).toEqual([]);
  }, 120_000);

  it('reports every figure BENCH.md names, finite', () => {
    for (const name of FIGURES) expect(Number.isFinite(r.figures[name]), name).toBe(true);
    expect(r.figures.workers).toBe(50);
    expect(r.figures.results_per_s).toBeGreaterThan(0);
    expect(r.figures.dispatch_p99_ms).toBeGreaterThanOrEqual(r.figures.dispatch_p50_ms!);
    expect(r.figures.recovery_s).toBeGreaterThan(0);
    expect(r.figures.bundle_fetches).toBe(50);
  });

  it('lost no trial and counted none twice: every queued trial has exactly one result in the ledger', () => {
    expect(r.figures.ledger_trials).toBeGreaterThan(50);
    expect(r.figures.lost).toBe(0);
    expect(r.figures.double_counted).toBe(0);
    expect(r.figures.worker_errors).toBe(0);
  });
});
