/**
 * The search policies the benchmark compares, each expressed as a config of
 * the real coordinator, with the same proposer and seeds:
 *
 * - `sequential_top`: autoresearch's rule on one GPU at the ladder's top rung
 *   (its depth and its price) — one run per idea against one run of the head
 *   with the same seed, keep if strictly lower (z 0, min_delta 0), merge at
 *   once, no prefetch. The reference.
 * - `sequential_screen`: the same rule on one GPU at the first (cheap) rung,
 *   scored at the top.
 * - `naive`: the top-rung greedy rule on N GPUs.
 * - `arswarm_knobs`: the target's own ladder and swarm settings on N GPUs
 *   (its proposers replaced by the knobs proposer alone).
 * - `arswarm_optuna`: the same ladder with the optuna proposer (TPE).
 * - `arswarm_knobs_nostop`: `arswarm_knobs` with every stage's `early_stop`
 *   removed, to measure what mid-slot stopping saves on the same seeds.
 * - `asha`: asynchronous successive halving (bench/sim/asha.ts) over the
 *   ladder's distinct rungs, the knobs proposer, no noise gate.
 */
import type { Config, StageConfig } from '../../common/config.js';
import { parseConfig } from '../../common/config-load.js';

export const POLICY_NAMES = [
  'sequential_top',
  'sequential_screen',
  'naive',
  'arswarm_knobs',
  'arswarm_optuna',
  'arswarm_knobs_nostop',
  'asha',
] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];
/**
 * The policies a plain run compares: all but `arswarm_optuna`, whose TPE ask
 * grows with the trials seen (one 24 h, 16-worker seed takes over 13 min of
 * wall time on 2 cores); name it in --policies to add it.
 */
export const DEFAULT_POLICIES: readonly PolicyName[] = POLICY_NAMES.filter((p) => p !== 'arswarm_optuna');
/** The policies that run arswarm's ladder; the best of them is compared with the references. */
export const ARSWARM_POLICIES: readonly PolicyName[] = ['arswarm_knobs', 'arswarm_optuna'];

export interface Policy {
  name: PolicyName;
  workers: number;
  config: Config;
  /** Who decides: the coordinator's scheduler with `config`, or ASHA over `config`'s rungs. @default coordinator */
  driver?: 'coordinator' | 'asha';
}

/** A config with mid-slot stopping off at every stage. */
export function withoutEarlyStop(c: Config): Config {
  const out = clone(c);
  out.stages = out.stages.map(({ early_stop: _off, ...s }) => s);
  return out;
}

const clone = <T>(x: T): T => structuredClone(x);

/** A plain-object deep merge: objects merge, everything else (arrays included) replaces. */
export function deepMerge<T>(base: T, patch: unknown): T {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch) as T;
  if (base === null || typeof base !== 'object' || Array.isArray(base)) return clone(patch) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) out[k] = deepMerge(out[k], v);
  return out as T;
}

/** The greedy "keep if strictly lower" config at one rung of the ladder (its depth and price). */
export function greedyConfig(base: Config, rung: StageConfig, prefetch: number): Config {
  const c = clone(base);
  const { early_stop: _unused, ...plain } = clone(rung);
  c.stages = [
    {
      ...plain,
      name: 'greedy',
      replicates: 1,
      max_replicates: 1,
      promote: { z: 0, min_delta: 0 },
    },
  ];
  // autoresearch's rule has no run-wide false-merge bound: "keep if strictly lower".
  c.swarm = {
    ...c.swarm,
    baseline_replicates: 1,
    merge_policy: 'auto',
    max_trials: 0,
    prefetch,
    false_merge_rate: 0,
  };
  c.proposers = knobsOnly(base);
  return c;
}

/** The config's knobs proposer (the landscape's), or a default one that leaves stage parameters alone. */
function knobsOnly(base: Config): Config['proposers'] {
  const knobs = base.proposers.filter((p) => p.kind === 'knobs');
  if (knobs.length > 0) return clone(knobs.slice(0, 1));
  return parseConfig({ ...clone(base), proposers: [{ kind: 'knobs', exclude: ['SEED', 'DEPTH'] }] }, 'knobs')
    .proposers;
}

/** ASHA's config: the target's ladder (its rungs and prices), the knobs proposer, no stopping. */
function ashaConfig(base: Config): Config {
  const c = withoutEarlyStop(base);
  c.proposers = knobsOnly(base);
  c.swarm = { ...c.swarm, merge_policy: 'auto', max_trials: 0 };
  return c;
}

/** The optuna proposer over the same knobs (TPE, the same exclusions as the knobs proposer). */
function optunaProposers(base: Config): unknown[] {
  const knobs = base.proposers.find((p) => p.kind === 'knobs');
  const exclude = knobs && 'exclude' in knobs ? knobs.exclude : ['SEED', 'DEPTH'];
  return [
    {
      kind: 'optuna',
      name: 'optuna',
      sampler: 'tpe',
      seed: 1,
      exclude,
      bounds: { ADAM_BETA1: { low: 0.8, high: 0.99 }, DROPOUT: { low: 0, high: 0.5 } },
      hybrid: false,
      startup_trials: 10,
      python: '/usr/bin/python3',
    },
  ];
}

/**
 * The policies over the target's config. `arswarmPatch` is deep-merged into
 * both arswarm configs (experiments: another ladder, prefetch, baselines).
 */
export function policies(base: Config, workers: number, arswarmPatch?: unknown): Policy[] {
  const arswarm = (name: string, proposers: unknown[]) => {
    const c = parseConfig(
      deepMerge(deepMerge(clone(base), { proposers }), arswarmPatch ?? {}),
      `the ${name} policy`,
    );
    c.swarm = { ...c.swarm, merge_policy: 'auto', max_trials: 0 };
    return c;
  };
  const top = base.stages.at(-1)!;
  const screen = base.stages[0]!;
  return [
    { name: 'sequential_top', workers: 1, config: greedyConfig(base, top, 1) },
    { name: 'sequential_screen', workers: 1, config: greedyConfig(base, screen, 1) },
    { name: 'naive', workers, config: greedyConfig(base, top, base.swarm.prefetch) },
    { name: 'arswarm_knobs', workers, config: arswarm('arswarm_knobs', knobsOnly(base)) },
    { name: 'arswarm_optuna', workers, config: arswarm('arswarm_optuna', optunaProposers(base)) },
    {
      name: 'arswarm_knobs_nostop',
      workers,
      config: withoutEarlyStop(arswarm('arswarm_knobs', knobsOnly(base))),
    },
    { name: 'asha', workers, config: ashaConfig(base), driver: 'asha' },
  ];
}
