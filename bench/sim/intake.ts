/**
 * The intake as the simulation runs it: the real Intake and knobs or optuna proposer,
 * with proposals made on demand (`background: false`) so that no proposer
 * runs on wall-clock timers beside the simulated clock.
 */
import type { Config } from '../../common/config.js';
import { Intake } from '../../coordinator/intake/index.js';
import type { Ledger } from '../../coordinator/ledger/ledger.js';
import { KnobsProposer } from '../../coordinator/proposers/knobs.js';
import { OptunaProposer } from '../../coordinator/proposers/optuna/index.js';
import type { Proposer } from '../../coordinator/proposers/proposer.js';
import type { TargetRepo } from '../../coordinator/repo.js';

export interface SimIntakeOptions {
  config: Config;
  repo: TargetRepo;
  ledger: Ledger;
  workers: number;
  /** Seed of the knobs and optuna proposers (replaces the config's). */
  knobsSeed: number;
  log: (msg: string) => void;
}

/** The intake with the config's knobs and optuna proposers, seeded for this run. */
export function makeIntake(o: SimIntakeOptions): Intake {
  const proposers = o.config.proposers.flatMap((p): Proposer[] => {
    if (p.kind === 'knobs') return [new KnobsProposer({ exclude: p.exclude, seed: o.knobsSeed })];
    if (p.kind === 'optuna')
      return [
        new OptunaProposer({
          name: p.name,
          sampler: p.sampler,
          seed: o.knobsSeed,
          exclude: p.exclude,
          bounds: p.bounds,
          hybrid: p.hybrid,
          startupTrials: p.startup_trials,
          python: p.python,
          objectiveStage: o.config.stages[0]!.name,
          lowerIsBetter: o.config.target.metric.direction === 'minimize',
          log: o.log,
        }),
      ];
    return [];
  });
  return new Intake(o.config, o.repo, o.ledger, proposers, o.log, {
    background: false,
    workerCount: () => o.workers,
  });
}
