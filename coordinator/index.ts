/**
 * The coordinator's public entry: everything other parts (CLI, benchmarks)
 * may import. eslint.config.js rejects deep imports into coordinator/ from
 * cli/, web/ and bench/; tests may reach the internals they test.
 */
export {
  Coordinator,
  JOURNAL_DEBOUNCE_MS,
  type CoordinatorAccess,
  type CoordinatorOptions,
  type CoordinatorState,
} from './coordinator.js';
export { runSummary, type RunSummary } from './run-summary.js';

// Worker scaling: the interface, local processes (`arswarm up`) and Kubernetes Deployments.
export type { PoolStatus, ScaleResult, WorkerScaler } from './scaler.js';
export {
  LocalWorkers,
  LOCAL_POOL,
  MAX_LOCAL_WORKERS,
  workerProcessEnv,
  type LocalWorkersOptions,
} from './local-workers.js';
export {
  createKubernetesScaler,
  kubernetesScalerOptionsFromEnv,
  type KubernetesScaler,
  type KubernetesScalerOptions,
} from './k8s/index.js';

// Proposers: the interface extra proposers implement (CoordinatorOptions.proposers).
export type { Proposal, ProposalContext, Proposer, ProposerLimits } from './proposers/index.js';

// The ledger and the shared branch, read from outside a running coordinator (chaos and scale benches).
export { replay, type Ledger } from './ledger/ledger.js';
export { DEFAULT_SNAPSHOT_EVERY_EVENTS } from './ledger/snapshots.js';
// Snapshot encoding, timed by the snapshot-block bench.
export { LedgerState } from './ledger/state.js';
export { deserializeState, serializeState, serializeStateAsync } from './ledger/snapshot.js';
export { TargetRepo } from './repo.js';
export { audit, branchAgreement, type AuditReport } from './audit.js';
export { resultsTsv } from './results-tsv.js';
export { GENERATED_TOKEN_FILE } from './api/auth.js';

// The promotion ladder's pure rules (the calibration bench simulates them).
export { configLevels, nominalAlpha } from './gate.js';
export { judge, stageRuleOf, type NoisePrior, type StageRule } from './stage-verdict.js';
export { improvement, NO_NOISE, pairedSums, pool, type NoiseSums, type Seeded } from './stats.js';
export { seedOf } from './trial-factory.js';
export { earlyStopRuleOf, judgeCurve, type EarlyStopRule, type StopJudgement } from './early-stop/rule.js';
