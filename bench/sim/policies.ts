/**
 * The search policies the benchmark compares, each expressed as a config of
 * the real coordinator:
 *
 * - `sequential`: autoresearch's rule on one GPU — one stage at the small
 *   depth, one run per idea against one run of the head with the same seed,
 *   keep if strictly lower (z 0, min_delta 0), merge at once, no prefetch.
 * - `naive`: the same rule on many GPUs.
 * - `arswarm`: the target's own ladder and swarm settings on many GPUs.
 */
import type { Config } from '../../common/config.js';
import { parseConfig } from '../../common/config-load.js';

export const POLICY_NAMES = ['sequential', 'naive', 'arswarm'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface Policy {
  name: PolicyName;
  workers: number;
  config: Config;
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

/** The greedy "keep if strictly lower" config at the ladder's first (small) depth. */
export function greedyConfig(base: Config, prefetch: number): Config {
  const c = clone(base);
  const first = c.stages[0]!;
  c.stages = [
    {
      ...first,
      name: 'greedy',
      replicates: 1,
      max_replicates: 1,
      promote: { z: 0, min_delta: 0 },
    },
  ];
  c.swarm = { ...c.swarm, baseline_replicates: 1, merge_policy: 'auto', max_trials: 0, prefetch };
  return c;
}

/**
 * The three policies over the target's config. `arswarmPatch` is deep-merged
 * into arswarm's config (experiments: another ladder, prefetch, baselines).
 */
export function policies(base: Config, workers: number, arswarmPatch?: unknown): Policy[] {
  const arswarm = parseConfig(deepMerge(clone(base), arswarmPatch ?? {}), 'the arswarm policy');
  arswarm.swarm = { ...arswarm.swarm, merge_policy: 'auto', max_trials: 0 };
  return [
    { name: 'sequential', workers: 1, config: greedyConfig(base, 1) },
    { name: 'naive', workers, config: greedyConfig(base, base.swarm.prefetch) },
    { name: 'arswarm', workers, config: arswarm },
  ];
}
