/**
 * The parts that decide what runs and what merges: the proposers behind the
 * intake, the top-stage gaming audit, and the scheduler that walks candidates
 * up the ladder and merges the winners. Built once at start.
 */
import type { Trial } from '../gen/arswarm/v1/trial_pb.js';
import type { Config } from '../common/config.js';
import { fleetOf } from './fleet.js';
import { buildAuditor, GamingAudit } from './gaming-audit/index.js';
import { Intake } from './intake/index.js';
import type { Ledger } from './ledger/ledger.js';
import { Merger } from './merger.js';
import { buildProposers } from './proposers/index.js';
import type { Proposer } from './proposers/proposer.js';
import type { TargetRepo } from './repo.js';
import { Scheduler } from './scheduler.js';
import type { TrialFactory } from './trial-factory.js';
import type { WorkersView } from './workers-view.js';

export interface DecisionPartsOptions {
  config: Config;
  repo: TargetRepo;
  ledger: Ledger;
  factory: TrialFactory;
  workers: WorkersView;
  /** Proposers besides the config's (tests). */
  extraProposers?: readonly Proposer[];
  /** Where proposer and auditor credentials come from. */
  env: NodeJS.ProcessEnv;
  /** Runs a state change in turn with everything else (Coordinator.exclusive). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Queues a trial for the workers. */
  publish(t: Trial): Promise<void>;
  log: (msg: string) => void;
}

export interface DecisionParts {
  intake: Intake;
  audit: GamingAudit;
  scheduler: Scheduler;
}

export function buildDecisionParts(o: DecisionPartsOptions): DecisionParts {
  const { config, repo, ledger, workers, log } = o;
  const proposers: Proposer[] = [...buildProposers(config, { env: o.env, log }), ...(o.extraProposers ?? [])];
  // Proposers run in the background; failures are recorded in turn with the scheduler.
  const intake: Intake = new Intake(config, repo, ledger, proposers, log, {
    exclusive: (fn) => o.exclusive(fn),
    workerCount: () => Math.max(workers.live().length, config.swarm.workers),
    wanted: (): boolean => !ledger.state.paused && !scheduler.limitReached(),
  });
  const audit = new GamingAudit({
    config,
    ledger,
    repo,
    exclusive: (fn) => o.exclusive(fn),
    auditor: buildAuditor(config, { env: o.env }),
    log,
  });
  const scheduler: Scheduler = new Scheduler({
    config,
    audit,
    ledger,
    factory: o.factory,
    merger: new Merger(repo, config),
    intake,
    publish: (t) => o.publish(t),
    fleet: () => fleetOf(workers.live()),
    fleetWarm: () => workers.warm(),
    proposersExhausted: () => intake.pool.exhausted(ledger.state.head),
    workerCount: () => Math.max(workers.live().length, 1),
    log,
  });
  return { intake, audit, scheduler };
}
