/**
 * GPU time mid-slot stopping saved, per stage, for status pages and
 * /metrics. For each stop: the mean run time of the OK baseline runs of the
 * same parent, stage and class (what a full run there costs) minus the
 * stopped run's own run time, once its STOPPED result is in; before that, or
 * without baseline run times, the slot seconds the look left unrun,
 * (1 − look) × the stage's budget. Derived from the ledger state only.
 */
import { TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import type { LedgerState } from '../ledger/state.js';

export interface StopSavings {
  /** Trials stopped mid-slot. */
  stopped: number;
  /** GPU seconds not spent on them. */
  savedGpuSeconds: number;
}

/** Stops and GPU seconds saved per stage name; `budgetOf` is a stage's budget in seconds. */
export function stopSavings(
  state: LedgerState,
  budgetOf: (stage: string) => number | undefined,
): Map<string, StopSavings> {
  const out = new Map<string, StopSavings>();
  for (const stop of state.stops.values()) {
    const s = out.get(stop.stage) ?? { stopped: 0, savedGpuSeconds: 0 };
    s.stopped++;
    s.savedGpuSeconds += savedBy(
      state,
      stop.trialId,
      stop.stage,
      stop.gpuClass,
      stop.evidence?.look ?? 1,
      budgetOf,
    );
    out.set(stop.stage, s);
  }
  return out;
}

function savedBy(
  state: LedgerState,
  trialId: string,
  stage: string,
  gpuClass: string,
  look: number,
  budgetOf: (stage: string) => number | undefined,
): number {
  const tv = state.trials.get(trialId);
  const r = tv?.result;
  if (tv && r && r.runMs > 0n) {
    const full = state
      .baselineTrialsOf(tv.trial.parentCommit, stage, r.gpuClass || gpuClass)
      .filter((b) => b.result?.status === TrialStatus.OK && b.result.runMs > 0n)
      .map((b) => Number(b.result!.runMs) / 1000);
    if (full.length)
      return Math.max(0, full.reduce((a, x) => a + x, 0) / full.length - Number(r.runMs) / 1000);
  }
  const budget = budgetOf(stage) ?? tv?.trial.stage?.budgetSeconds ?? 0;
  return Math.max(0, 1 - look) * budget;
}

/** Totals over every stage. */
export function totalSavings(per: ReadonlyMap<string, StopSavings>): StopSavings {
  let stopped = 0;
  let savedGpuSeconds = 0;
  for (const s of per.values()) {
    stopped += s.stopped;
    savedGpuSeconds += s.savedGpuSeconds;
  }
  return { stopped, savedGpuSeconds };
}
