/**
 * The run-wide bound of the noise gate: levels per stage such that the
 * chance of any noise-only change merging during a whole run stays under
 * `swarm.false_merge_rate`.
 *
 * A noise-only change merges only by passing every stage, each with fresh
 * seeds, so its end-to-end chance is the product of the stage levels. The
 * first stage is a cheap filter and keeps its configured z; the stages above
 * it share what is left of the budget after a Bonferroni split over every
 * candidate that could pass the filter in the run (all workers running the
 * first stage for `run_hours`, each a noise-only candidate — the worst case).
 * Within a stage, a level is spent over its looks (one per judgement with an
 * extra replicate), so asking for more replicates cannot inflate it.
 */
import { maxReplicatesOf, type Config } from '../common/config.js';
import { normalCdf } from './distributions.js';

/** What the bound needs to know about a stage. */
export interface GateStage {
  z: number;
  replicates: number;
  maxReplicates: number;
  budgetSeconds: number;
}

/** What the bound needs to know about the run. */
export interface GateRun {
  /** 0 = no bound. */
  falseMergeRate: number;
  runHours: number;
  runWorkers: number;
  /** Trials the run may finish at most (0 = unbounded). */
  maxTrials: number;
}

/** The levels, per stage, and how they were derived (reported by the calibration bench). */
export interface StageLevels {
  /** One-sided level of the whole stage, all its looks together (the first stage's: a Bonferroni bound). */
  stage: number[];
  /** Level of one look: stage / looks. */
  look: number[];
  /** Judgements a candidate may get at the stage (1 + extra replicates allowed). */
  looks: number[];
  /** Candidates the first stage may judge in the run (worst case). */
  candidates: number;
  /** Noise-only candidates expected to pass the first stage in the run (worst case). */
  reachingGuarded: number;
  /** The end-to-end level each of them gets: the product of the guarded stages' levels. */
  perCandidate: number;
}

/** The nominal one-sided level of a z: the normal tail 1 − Φ(z). */
export function nominalAlpha(z: number): number {
  return 1 - normalCdf(z);
}

/**
 * Stage levels under the run-wide bound. The guarded stages (all but the
 * first; the only one in a one-stage ladder) keep the shape the config gives
 * them: each configured level is raised to one common power w ≥ 1, the
 * smallest that brings their product under the per-candidate budget (w = 1,
 * the configured levels, when they already do).
 */
export function stageLevels(stages: readonly GateStage[], run: GateRun): StageLevels {
  const looks = stages.map((s) => Math.max(1, s.maxReplicates - s.replicates + 1));
  const nominal = stages.map((s) => nominalAlpha(s.z));
  const slot = Math.max(1, stages[0]?.budgetSeconds ?? 1);
  let candidates = (run.runWorkers * run.runHours * 3600) / slot;
  if (run.maxTrials > 0) candidates = Math.min(candidates, run.maxTrials);
  const guarded = stages.length > 1 ? stages.map((_, i) => i > 0) : stages.map(() => true);
  // Bonferroni over the first stage's looks bounds its real pass rate.
  const reaching = stages.length > 1 ? candidates * Math.min(1, nominal[0]! * looks[0]!) : candidates;
  // The first stage's looks each get its full level (it is a filter); its
  // pass rate is then at most level x looks, which `reaching` counts.
  const stage = nominal.map((a, i) => (guarded[i] ? a : Math.min(1, a * looks[i]!)));
  let perCandidate = guarded.reduce((p, g, i) => (g ? p * nominal[i]! : p), 1);
  if (run.falseMergeRate > 0 && reaching > 0) {
    const budget = run.falseMergeRate / reaching;
    const logSum = guarded.reduce((s, g, i) => (g ? s + Math.log(nominal[i]!) : s), 0);
    // Every level is at most 0.5 (z ≥ 0), so logSum < 0 and w is finite.
    if (perCandidate > budget && logSum < 0) {
      const w = Math.log(budget) / logSum;
      guarded.forEach((g, i) => {
        if (g) stage[i] = nominal[i]! ** w;
      });
      perCandidate = guarded.reduce((p, g, i) => (g ? p * stage[i]! : p), 1);
    }
  }
  return {
    stage,
    look: stage.map((a, i) => (guarded[i] ? a / looks[i]! : nominal[i]!)),
    looks,
    candidates,
    reachingGuarded: reaching,
    perCandidate,
  };
}

/** Stage levels of a config. */
export function configLevels(config: Config): StageLevels {
  return stageLevels(
    config.stages.map((s) => ({
      z: s.promote.z,
      replicates: s.replicates,
      maxReplicates: maxReplicatesOf(s),
      budgetSeconds: s.budget_seconds,
    })),
    {
      falseMergeRate: config.swarm.false_merge_rate,
      runHours: config.swarm.run_hours,
      runWorkers: config.swarm.run_workers,
      maxTrials: config.swarm.max_trials,
    },
  );
}
