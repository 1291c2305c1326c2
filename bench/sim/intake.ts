/**
 * The intake as the simulation runs it: the real Intake and knobs proposer,
 * with proposals made on demand (`background: false`) so that no proposer
 * runs on wall-clock timers beside the simulated clock.
 */
import type { Config } from '../../common/config.js';
import { Intake } from '../../coordinator/intake.js';
import type { Ledger } from '../../coordinator/ledger/ledger.js';
import { KnobsProposer } from '../../coordinator/proposers/knobs.js';
import type { TargetRepo } from '../../coordinator/repo.js';

export interface SimIntakeOptions {
  config: Config;
  repo: TargetRepo;
  ledger: Ledger;
  workers: number;
  /** Seed of the knobs proposer (replaces the config's). */
  knobsSeed: number;
  log: (msg: string) => void;
}

/** The intake with the config's knobs proposers, seeded for this run. */
export function makeIntake(o: SimIntakeOptions): Intake {
  const proposers = o.config.proposers.flatMap((p) =>
    p.kind === 'knobs' ? [new KnobsProposer({ exclude: p.exclude, seed: o.knobsSeed })] : [],
  );
  return new Intake(o.config, o.repo, o.ledger, proposers, o.log, {
    background: false,
    workerCount: () => o.workers,
  });
}
