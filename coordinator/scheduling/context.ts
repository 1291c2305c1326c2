/**
 * What the scheduler's steps share: its dependencies, the ledger's state, the
 * stage levels and the noise pooled per stage and class. Each step
 * (record, baselines, advance, merge-step, feed) is a function of it; the
 * Scheduler (coordinator/scheduler.ts) orchestrates them on every tick.
 */
import type { Trial } from '../../gen/arswarm/v1/trial_pb.js';
import type { Config } from '../../common/config.js';
import type { Ledger } from '../ledger/ledger.js';
import type { LedgerState } from '../ledger/state.js';
import type { StageLevels } from '../gate.js';
import type { NoisePool } from '../noise-pool.js';
import type { TrialFactory } from '../trial-factory.js';
import type { Merger } from '../merger.js';
import type { Intake } from '../intake/index.js';
import type { GamingAudit } from '../gaming-audit/index.js';
import type { FleetClass } from '../fleet.js';

export interface SchedulerDeps {
  config: Config;
  ledger: Ledger;
  factory: TrialFactory;
  merger: Merger;
  intake: Intake;
  /** The top-stage gaming audit; without it candidates merge on their evidence alone (simulations). */
  audit?: GamingAudit;
  /** Publishes a trial to its queue (idempotent by trial id). */
  publish(trial: Trial): Promise<void>;
  /** Live worker classes with their GPU memory and capacity. */
  fleet(): FleetClass[];
  /**
   * The fleet view has watched long enough to have seen every live worker;
   * until then a class missing from it is not re-routed away from.
   * @default always true
   */
  fleetWarm?(): boolean;
  /**
   * Why no proposer will offer anything more at the current head (all
   * exhausted or over budget), or undefined while one may.
   * @default never exhausted
   */
  proposersExhausted?(): string | undefined;
  /** Number of live workers (the config's count until heartbeats arrive). */
  workerCount(): number;
  log(msg: string): void;
}

export interface SchedulingContext {
  readonly d: SchedulerDeps;
  /** The ledger's state now. */
  readonly state: LedgerState;
  /** Stage levels under the run-wide false-merge bound (gate.ts). */
  readonly levels: StageLevels;
  /** Noise pooled across heads and candidates per stage and class (noise-pool.ts). */
  readonly noise: NoisePool;
  /** SchedulerDeps.fleetWarm, true when it is not given. */
  warm(): boolean;
}
