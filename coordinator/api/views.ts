/**
 * Read views of the ledger state for the control API: candidate summaries,
 * per-stage evidence, the status page. Pure functions of the state, so they
 * are tested without a server.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { CandidateState, VerdictKind, type Verdict } from '../../gen/arswarm/v1/candidate_pb.js';
import {
  CandidateSummarySchema,
  type CandidateSummary,
  type GetStatusResponseSchema,
  type StageEvidence,
  type StageStatus,
  StageEvidenceSchema,
  StageStatusSchema,
} from '../../gen/arswarm/v1/control_pb.js';
import type { WorkerHeartbeat } from '../../gen/arswarm/v1/trial_pb.js';
import type { Config } from '../../common/config.js';
import type { CandidateView, LedgerState } from '../ledger/state.js';
import type { PoolStatus } from '../scaler.js';
import { stopSavings, type StopSavings } from '../early-stop/savings.js';
import type { StageWaiting } from '../waiting.js';

/** Results per minute are measured over this window. @default 300000 */
export const THROUGHPUT_WINDOW_MS = 5 * 60_000;

export function summary(v: CandidateView, stageNames: readonly string[]): CandidateSummary {
  return create(CandidateSummarySchema, {
    candidate: v.candidate,
    state: v.state,
    stage: stageNames[v.stageIndex] ?? '',
    verdicts: v.verdicts,
    mergedCommit: v.mergedCommit,
    flags: v.flags,
    audit: v.audit,
  });
}

/** The verdict that stands at each stage: the last decided one, else the last inconclusive one. */
export function standingVerdicts(verdicts: readonly Verdict[], stageNames: readonly string[]): Verdict[] {
  const out: Verdict[] = [];
  for (const stage of stageNames) {
    const at = verdicts.filter((x) => x.stage === stage);
    const v = at.filter((x) => x.kind !== VerdictKind.INCONCLUSIVE).at(-1) ?? at.at(-1);
    if (v) out.push(v);
  }
  return out;
}

/** Evidence per stage: Δ ± σ, n, the seeds and GPU class behind it, and the run time it cost. */
export function evidence(state: LedgerState, v: CandidateView): StageEvidence[] {
  return standingVerdicts(v.verdicts, state.stageNames).map((x) => {
    const trials = x.trialIds.map((id) => state.trials.get(id)).filter((t) => t !== undefined);
    return create(StageEvidenceSchema, {
      stage: x.stage,
      kind: x.kind,
      delta: x.delta,
      sigma: x.sigma,
      n: x.n,
      seeds: [...new Set(trials.map((t) => t.trial.seed))].sort((a, b) => a - b),
      gpuClass: x.gpuClass,
      candidateMean: x.candidateMean,
      baselineMean: x.baselineMean,
      trialIds: x.trialIds,
      reason: x.reason,
      gpuSeconds: trials.reduce((a, t) => a + Number(t.result?.runMs ?? 0n) / 1000, 0),
      // A verdict names the stopped trial first (scheduler.ts): the stop's look is the evidence.
      stop: x.kind === VerdictKind.REJECT ? state.stops.get(x.trialIds[0] ?? '') : undefined,
    });
  });
}

/** Filters candidates the way ListCandidates does; `human` also matches `human:<name>`. */
export function matchesProposer(proposer: string, filter: string): boolean {
  return !filter || proposer === filter || proposer.startsWith(`${filter}:`);
}

function stageStatus(
  state: LedgerState,
  name: string,
  lowerIsBetter: boolean,
  classes: readonly string[],
  waiting: StageWaiting | undefined,
  stops: StopSavings | undefined,
): StageStatus {
  const c = state.stageCounts.get(name);
  const queued = c?.queued ?? 0;
  const running = c?.running ?? 0;
  const finished = c?.finished ?? 0;
  const best = (lowerIsBetter ? c?.okMin : c?.okMax) ?? NaN;
  const baselineMean: Record<string, number> = {};
  for (const cls of classes) {
    const b = state.baseline(state.head, name, cls);
    if (b.length) baselineMean[cls] = b.reduce((a, x) => a + x.metric, 0) / b.length;
  }
  return create(StageStatusSchema, {
    name,
    queued,
    running,
    finished,
    bestMetric: best,
    baselineMean,
    waiting: waiting?.trials ?? 0,
    waitingCandidates: waiting?.candidates ?? 0,
    waitingFor: waiting?.waitingFor ?? '',
    stopped: stops?.stopped ?? 0,
    stopSavedGpuSeconds: stops?.savedGpuSeconds ?? 0,
  });
}

/** Results per minute over the last window (shorter while the swarm is younger than it). */
export function resultsPerMinute(state: LedgerState, now = Date.now(), windowMs = THROUGHPUT_WINDOW_MS) {
  let count = 0;
  let first = Infinity;
  for (const tv of state.trials.values()) {
    const at = Number(tv.result?.finishedAtMs ?? 0n);
    if (!at) continue;
    first = Math.min(first, at);
    if (at > now - windowMs) count++;
  }
  if (!count) return 0;
  const span = Math.max(Math.min(windowMs, now - first), 10_000);
  return (count * 60_000) / span;
}

export interface StatusInputs {
  config: Config;
  state: LedgerState;
  workers: WorkerHeartbeat[];
  pools: PoolStatus[];
  /** Work no live worker can run, per stage (waiting.ts). @default none */
  waiting?: ReadonlyMap<string, StageWaiting>;
  /** Stages no live worker can run. @default none */
  warnings?: string[];
  /** Why no proposer offers anything more at the head. @default none */
  proposersExhausted?: string;
  now?: number;
}

export function status(i: StatusInputs): MessageInitShape<typeof GetStatusResponseSchema> {
  const { config, state: s } = i;
  const lowerIsBetter = config.target.metric.direction === 'minimize';
  const classes = [...new Set(i.workers.map((w) => w.gpuClass))].sort();
  const lastMerge = s.merges.at(-1);
  const stops = stopSavings(s, (name) => config.stages.find((x) => x.name === name)?.budget_seconds);
  let inReview = 0n,
    inputTokens = 0n,
    outputTokens = 0n;
  for (const v of s.candidates.values()) {
    if (v.state === CandidateState.REVIEW) inReview++;
    inputTokens += v.candidate.usage?.inputTokens ?? 0n;
    outputTokens += v.candidate.usage?.outputTokens ?? 0n;
  }
  return {
    branch: s.branch,
    head: s.head,
    headMetric: lastMerge ? lastMerge.metricAfter : NaN,
    trialsFinished: BigInt(s.finished),
    trialsQueued: BigInt(s.pending.size),
    candidates: BigInt(s.candidates.size),
    merges: BigInt(s.merges.length),
    stages: s.stageNames.map((name) =>
      stageStatus(s, name, lowerIsBetter, classes, i.waiting?.get(name), stops.get(name)),
    ),
    workers: i.workers,
    costUsd: s.costUsd,
    metric: config.target.metric.name,
    lowerIsBetter,
    ledgerEvents: BigInt(s.events),
    resultsPerMinute: resultsPerMinute(s, i.now),
    workerIdleSeconds: i.workers.reduce((a, w) => a + w.idleSeconds, 0),
    paused: s.paused,
    mergePolicy: config.swarm.merge_policy,
    inReview,
    pools: i.pools,
    proposerInputTokens: inputTokens,
    proposerOutputTokens: outputTokens,
    warnings: i.warnings ?? [],
    proposersExhausted: i.proposersExhausted ?? '',
  };
}

/** Candidate counts per state word (active, review, merged, ...). */
export function countStates(state: LedgerState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of state.candidates.values()) {
    const k = CandidateState[v.state].toLowerCase();
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
