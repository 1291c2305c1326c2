/**
 * `npm run bench -- search [--seeds 3] [--hours 24] [--sequential-hours 96] [--workers 16]`:
 * how fast each search policy improves the landscape's true metric at the
 * top depth, and how often it merges a change that does not really help there.
 *
 * Every decision is the coordinator's real code (bench/sim/swarm.ts); only
 * time and the GPUs are simulated, and the metric is the landscape's own
 * model. Rungs cost their stage's budget (the landscape prices DEPTH 8 at
 * twice DEPTH 4). Policies (bench/sim/policies.ts), same proposer and seeds:
 * sequential_top (autoresearch's rule at the top rung, 1 worker, the
 * reference), sequential_screen (the rule at the screen rung, 1 worker),
 * naive (the top-rung rule on N workers), arswarm_knobs and arswarm_optuna
 * (the ladder on N workers). Time to target is a median over seeds with
 * runs that miss it counted as their budget; `<policy>_censored` is 1 when
 * that median is itself censored, and `speedup_censored` when either side
 * of `speedup_vs_sequential` (sequential_top / best arswarm policy) is.
 *
 * Options: --seeds N, --hours H (N-worker policies), --sequential-hours H
 * (1-worker policies, default max(96, hours): long enough for the reference
 * to reach the target), --workers N, --overhead-s S (per trial), --fraction F
 * (of the achievable improvement that counts as the target, 0.9), --config
 * PATH (another landscape config), --policies a,b (a subset), --arswarm-patch
 * JSON (deep-merged into arswarm's configs, for experiments), --concurrency K
 * (simulations at once, default 2), --verbose.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../common/config-load.js';
import { machine, median, parseArgs, progress, type BenchReport } from './report.js';
import { LandscapeOracle } from './sim/oracle.js';
import {
  ARSWARM_POLICIES,
  DEFAULT_POLICIES,
  POLICY_NAMES,
  policies,
  type Policy,
  type PolicyName,
} from './sim/policies.js';
import {
  censoredMedian,
  speedupOf,
  stoppingFigures,
  summarize,
  type CensoredMedian,
  type RunSummary,
} from './sim/summary.js';
import { simulateAsha } from './sim/asha-swarm.js';
import { simulate, type SimOptions } from './sim/swarm.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The landscape example's config: its ladder is arswarm's policy. */
export const DEFAULT_CONFIG = join(here, '..', 'examples', 'landscape', 'arswarm.yaml');

/** Resolved options of one benchmark run. */
export interface SearchOptions {
  seeds: number;
  hours: number;
  /** Budget of the sequential (1-worker) policies, hours: long enough that the reference reaches the target. */
  sequentialHours: number;
  workers: number;
  overheadS: number;
  fraction: number;
  configPath: string;
  policies: PolicyName[];
  arswarmPatch?: unknown;
  concurrency: number;
  verbose: boolean;
}

export function resolveSearchOptions(args: readonly string[]): SearchOptions {
  const a = parseArgs(args);
  const num = (k: string, d: number) => {
    const v = a[k] === undefined ? d : Number(a[k]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${k} must be a positive number, got ${a[k]}`);
    return v;
  };
  const chosen = (a.policies?.split(',') ?? [...DEFAULT_POLICIES]) as PolicyName[];
  for (const p of chosen)
    if (!POLICY_NAMES.includes(p))
      throw new Error(`--policies: unknown policy "${p}" (${POLICY_NAMES.join(', ')})`);
  return {
    seeds: Math.round(num('seeds', 3)),
    hours: num('hours', 24),
    sequentialHours: num('sequential-hours', Math.max(num('hours', 24), 96)),
    workers: Math.round(num('workers', 16)),
    overheadS: a['overhead-s'] === '0' ? 0 : num('overhead-s', 5),
    fraction: num('fraction', 0.9),
    configPath: a.config ?? DEFAULT_CONFIG,
    policies: chosen,
    arswarmPatch: a['arswarm-patch'] ? (JSON.parse(a['arswarm-patch']) as unknown) : undefined,
    concurrency: Math.round(num('concurrency', 2)),
    verbose: a.verbose === 'true',
  };
}

/** Depth of a stage's DEPTH parameter. */
function depthOf(env: Record<string, string>): number {
  const d = Number(env.DEPTH);
  if (!Number.isInteger(d) || d <= 0) throw new Error('every stage of the landscape ladder must set DEPTH');
  return d;
}

export async function run(args: string[]): Promise<BenchReport> {
  const o = resolveSearchOptions(args);
  const loaded = loadConfig(o.configPath);
  const base = loaded.config;
  // The yardstick is the target's own ladder: its top depth, whatever an experiment changes.
  const topDepth = depthOf(base.stages.at(-1)!.env);
  const budgetOf = (p: Policy) => (p.workers === 1 ? o.sequentialHours : o.hours) * 3600;
  const oracle = new LandscapeOracle(loaded.repoDir);
  try {
    const optimum = await oracle.optimum(topDepth);
    const all = policies(base, o.workers, o.arswarmPatch).filter((p) => o.policies.includes(p.name));
    const jobs: { policy: Policy; seed: number }[] = [];
    for (let seed = 1; seed <= o.seeds; seed++) for (const policy of all) jobs.push({ policy, seed });
    const runs = new Map<PolicyName, RunSummary[]>();
    const budgets = new Map(all.map((p) => [p.name, budgetOf(p)]));
    let start = NaN;
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const { policy, seed } = jobs[next++]!;
        const sim: SimOptions = {
          config: policy.config,
          landscapeDir: loaded.repoDir,
          oracle,
          workers: policy.workers,
          budgetS: budgetOf(policy),
          knobsSeed: seed,
          noiseSeed: seed,
          overheadS: o.overheadS,
          topDepth,
          log: o.verbose ? (m) => progress(`  [${policy.name} ${seed}] ${m}`) : undefined,
        };
        const out = policy.driver === 'asha' ? await simulateAsha(sim) : await simulate(sim);
        start = out.startTrue;
        const s = { ...summarize(out, { optimum, fraction: o.fraction, budgetS: budgetOf(policy) }), seed };
        runs.set(policy.name, [...(runs.get(policy.name) ?? []), s]);
        progress(
          `search: ${policy.name} seed ${seed}: ${s.reached ? `target at ${(s.timeToTargetS / 3600).toFixed(2)} h` : 'target not reached'}, ` +
            `final ${s.finalTrue.toFixed(4)}, ${s.merges} merges (${s.falseMerges} false), ${s.trials} trials, ` +
            `${s.gpuHours.toFixed(1)} GPU-h${out.stoppedTrials ? ` (${out.stoppedTrials} stopped mid-slot)` : ''}, ` +
            `${out.wallS.toFixed(0)} s wall${out.exhausted ? ', proposer exhausted' : ''}`,
        );
        if (o.verbose) {
          progress(
            `    candidates ${JSON.stringify(out.outcomes)}; verdicts ${JSON.stringify(out.verdicts)}`,
          );
          progress(
            `    trials by stage ${JSON.stringify(out.trialsByStage)} (${out.baselineTrials} baselines); diffs ${JSON.stringify(out.repo)}`,
          );
        }
        if (o.verbose)
          for (const m of out.merges)
            progress(
              `    ${(m.atS / 3600).toFixed(2)} h ${m.candidateId} ${m.title}: ${m.trueBefore.toFixed(5)} -> ${m.trueAfter.toFixed(5)}`,
            );
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, jobs.length) }, worker));

    const figures: Record<string, number> = {};
    const times = new Map<PolicyName, CensoredMedian>();
    for (const name of o.policies) {
      const rs = runs.get(name) ?? [];
      const med = (f: (r: RunSummary) => number) => median(rs.map(f));
      const t = censoredMedian(rs, budgets.get(name)!);
      times.set(name, t);
      figures[`${name}_reached`] = t.reached;
      figures[`${name}_runs`] = t.runs;
      figures[`${name}_time_to_target_s`] = t.median;
      figures[`${name}_censored`] = t.censored;
      figures[`${name}_budget_s`] = budgets.get(name)!;
      figures[`${name}_final_true_metric`] = med((r) => r.finalTrue);
      figures[`${name}_merges`] = med((r) => r.merges);
      figures[`${name}_false_merges`] = med((r) => r.falseMerges);
      figures[`${name}_false_merges_max`] = Math.max(...rs.map((r) => r.falseMerges));
      figures[`${name}_gpu_hours`] = med((r) => r.gpuHours);
      figures[`${name}_gpu_hours_to_target`] = med((r) => r.gpuHoursToTarget);
      figures[`${name}_improvement_fraction`] = med((r) => r.improvementFraction);
      figures[`${name}_time_to_half_s`] = med((r) => r.timeToHalfS);
      figures[`${name}_trials`] = med((r) => r.trials);
      figures[`${name}_stopped_trials`] = med((r) => r.stoppedTrials);
    }
    // The best arswarm policy (fastest median time to target, uncensored first) against the reference.
    const best = ARSWARM_POLICIES.filter((p) => times.has(p)).sort(
      (a, b) =>
        times.get(a)!.censored - times.get(b)!.censored || times.get(a)!.median - times.get(b)!.median,
    )[0];
    const reference = times.get('sequential_top');
    if (best && reference) {
      const s = speedupOf(reference, times.get(best)!);
      figures.speedup_vs_sequential = s.speedup;
      figures.speedup_censored = s.censored;
      figures.best_arswarm_policy = ARSWARM_POLICIES.indexOf(best);
    }
    const asha = times.get('asha');
    if (best && asha) {
      const s = speedupOf(asha, times.get(best)!);
      figures.speedup_vs_asha = s.speedup;
      figures.speedup_vs_asha_censored = s.censored;
    }
    Object.assign(figures, stoppingFigures(runs));
    figures.start_true_metric = start;
    figures.optimum_true_metric = optimum;
    figures.target_true_metric = start - o.fraction * (start - optimum);
    figures.budget_s = o.hours * 3600;
    figures.sequential_budget_s = o.sequentialHours * 3600;
    return {
      bench: 'search',
      machine: machine(),
      params: {
        seeds: o.seeds,
        hours: o.hours,
        sequential_hours: o.sequentialHours,
        workers: o.workers,
        overhead_s: o.overheadS,
        fraction: o.fraction,
        top_depth: topDepth,
        config: o.configPath,
        policies: o.policies,
        ...(o.arswarmPatch ? { arswarm_patch: o.arswarmPatch } : {}),
      },
      figures,
    };
  } finally {
    await oracle.close();
  }
}
