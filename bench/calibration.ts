/**
 * `npm run bench -- calibration [--candidates 20000]`: how often the noise
 * gate passes changes that do nothing, per stage, next to the level it
 * targets, and the chance that any such change merges during a whole run.
 *
 * Each stage judges `--candidates` noise-only candidates with the real
 * `judge()` and the scheduler's replicate logic (bench/calibration/simulate.ts),
 * at the levels the coordinator derives from the config (coordinator/gate.ts),
 * and again with the gate as it was before (normal z, unpooled σ). Stages use
 * disjoint seeds, so a noise-only change passes them independently: its
 * end-to-end chance is the product of the stages' rates, and the run's
 * `1 − (1 − p)^N` over the N candidates a run of `run_hours` at `run_workers`
 * could judge at the first stage (every one noise-only: the worst case).
 *
 * Options: --candidates N (per stage), --config PATH (the ladder; default the
 * landscape's), --hours H and --workers W (the run the bound covers; default
 * the config's run_hours and run_workers), --sigma S and --seed-shared F (the
 * noise model; default the landscape's truth.json), --merge-every M (the
 * head moves every M candidates, 100), --false-merge-rate A (0: each stage
 * at its configured z, which checks the t test's own calibration), --seed K.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig } from '../common/config-load.js';
import { configLevels, nominalAlpha, stageRuleOf } from '../coordinator/index.js';
import { simulateStage, type GateKind } from './calibration/simulate.js';
import { machine, parseArgs, progress, type BenchReport } from './report.js';
import { DEFAULT_CONFIG } from './search.js';

export async function run(args: string[]): Promise<BenchReport> {
  const a = parseArgs(args);
  const configPath = a.config ?? DEFAULT_CONFIG;
  const { config } = loadConfig(configPath);
  const truth = readTruth(join(dirname(configPath), 'truth.json'));
  const candidates = Number(a.candidates ?? 20_000);
  const hours = Number(a.hours ?? config.swarm.run_hours);
  const workers = Number(a.workers ?? config.swarm.run_workers);
  const sigma = Number(a.sigma ?? truth.sigma);
  const seedShared = Number(a['seed-shared'] ?? truth.seedShared);
  const mergeEvery = Number(a['merge-every'] ?? 100);
  const seed = Number(a.seed ?? 1);
  // The bound is for a whole run of `hours` at `workers`, not the example's max_trials.
  const falseMergeRate = Number(a['false-merge-rate'] ?? config.swarm.false_merge_rate);
  const levels = configLevels({
    ...config,
    swarm: {
      ...config.swarm,
      run_hours: hours,
      run_workers: workers,
      max_trials: 0,
      false_merge_rate: falseMergeRate,
    },
  });
  const figures: Record<string, number> = {};
  const product: Record<GateKind, number> = { new: 1, old: 1 };
  let upper = 1;
  for (const [i, s] of config.stages.entries()) {
    const rule = stageRuleOf(s, levels.look[i]);
    for (const gate of ['new', 'old'] as const) {
      const r = simulateStage({
        rule,
        stageIndex: i,
        baselineReplicates: config.swarm.baseline_replicates,
        candidates,
        noise: { sigma, seedShared },
        mergeEvery,
        seed: seed * 7919 + i * 104_729 + (gate === 'old' ? 1 : 0),
        gate,
      });
      const rate = r.passed / r.candidates;
      product[gate] *= rate;
      if (gate === 'new') upper *= wilsonUpper(r.passed, r.candidates);
      const p = gate === 'new' ? `${s.name}_` : `${s.name}_old_`;
      figures[`${p}false_pass`] = rate;
      figures[`${p}mean_runs`] = r.meanRuns;
      progress(
        `${s.name} (${gate} gate): ${r.passed}/${r.candidates} noise-only candidates passed (${(100 * rate).toFixed(3)} %)`,
      );
    }
    figures[`${s.name}_nominal`] = levels.stage[i]!;
    figures[`${s.name}_look_nominal`] = levels.look[i]!;
    figures[`${s.name}_old_nominal`] = nominalAlpha(s.promote.z);
  }
  const n = levels.candidates;
  const run = (p: number) => 1 - Math.exp(n * Math.log1p(-Math.min(p, 1 - 1e-16)));
  Object.assign(figures, {
    run_candidates: n,
    per_candidate_false_merge: product.new,
    old_per_candidate_false_merge: product.old,
    per_candidate_nominal: levels.perCandidate * (levels.reachingGuarded / n),
    run_false_merge: run(product.new),
    // Product of each stage's 95 % upper bound: what the measured rates rule out, even with none observed.
    run_false_merge_upper95: run(upper),
    old_run_false_merge: run(product.old),
    // The union bound the derived levels promise (the configured false_merge_rate when it binds).
    run_false_merge_nominal: Math.min(1, levels.reachingGuarded * levels.perCandidate),
  });
  return {
    bench: 'calibration',
    machine: machine(),
    params: {
      config: configPath,
      candidates_per_stage: candidates,
      run_hours: hours,
      run_workers: workers,
      false_merge_rate: falseMergeRate,
      sigma,
      seed_shared: seedShared,
      merge_every: mergeEvery,
      baseline_replicates: config.swarm.baseline_replicates,
      seed,
    },
    figures,
  };
}

/** One-sided 95 % Wilson upper bound of a rate from k of n. */
function wilsonUpper(k: number, n: number): number {
  const z = 1.645;
  const p = k / n;
  const z2 = (z * z) / n;
  return (p + z2 / 2 + z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n))) / (1 + z2);
}

function readTruth(path: string): { sigma: number; seedShared: number } {
  try {
    const t = JSON.parse(readFileSync(path, 'utf8')) as { noise?: { sigma?: number; seed_shared?: number } };
    return { sigma: t.noise?.sigma ?? 0.002, seedShared: t.noise?.seed_shared ?? 0.5 };
  } catch {
    return { sigma: 0.002, seedShared: 0.5 };
  }
}
