/**
 * Work that no live worker can run: trials queued for a class that has no
 * live worker or at a stage whose memory floor is above every live GPU, and
 * candidates waiting at such a stage. The scheduler leaves it out of its
 * feed (it must not block other work); status, the dashboard and /metrics
 * show it ("scale: waiting for a worker with >= 40000 MB").
 */
import { ANY_GPU_CLASS } from '../common/subjects.js';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import type { Stage } from '../gen/arswarm/v1/trial_pb.js';
import { eligibleClasses, neededWorker, unrunnableStage, type FleetClass } from './fleet.js';
import type { LedgerState, TrialView } from './ledger/state.js';

/** Whether some live worker may run a queued trial. */
export function runnable(tv: TrialView, fleet: readonly FleetClass[]): boolean {
  const stage = tv.trial.stage;
  if (!stage) return false;
  const ok = eligibleClasses(stage, fleet);
  return tv.trial.gpuClass === ANY_GPU_CLASS
    ? ok.length > 0
    : ok.some((c) => c.gpuClass === tv.trial.gpuClass);
}

/** Trials queued (not started) per class, for the choice of a class. */
export function queuedByClass(state: LedgerState): Map<string, number> {
  const out = new Map<string, number>();
  for (const id of state.pending) {
    const tv = state.trials.get(id);
    if (!tv || tv.started) continue;
    out.set(tv.trial.gpuClass, (out.get(tv.trial.gpuClass) ?? 0) + 1);
  }
  return out;
}

/**
 * Pending trials (queued or running) that some live worker can run. A
 * started trial counts only while its class is live: one that was running on
 * a worker whose class has left goes back to that class's queue, not to
 * another class.
 */
export function runnablePending(state: LedgerState, fleet: readonly FleetClass[]): number {
  let n = 0;
  for (const id of state.pending) {
    const tv = state.trials.get(id);
    if (tv && runnable(tv, fleet)) n++;
  }
  return n;
}

/** One stage's work that waits for a worker. */
export interface StageWaiting {
  /** Pending trials no live worker can run (queued, or started on a worker whose class has left). */
  trials: number;
  /** Active candidates at the stage with nothing queued because no live worker may run it. */
  candidates: number;
  /** What they wait for, e.g. "a worker with >= 40000 MB" or "a H100-80GB worker" (empty when nothing waits). */
  waitingFor: string;
}

/** Waiting work per stage name (every stage present). */
export function waitingWork(
  state: LedgerState,
  stages: readonly Stage[],
  fleet: readonly FleetClass[],
): Map<string, StageWaiting> {
  const out = new Map<string, StageWaiting>(
    stages.map((s) => [s.name, { trials: 0, candidates: 0, waitingFor: '' }]),
  );
  const reasons = new Map<string, Set<string>>();
  const note = (stage: string, why: string) => {
    const set = reasons.get(stage) ?? new Set();
    set.add(why);
    reasons.set(stage, set);
  };
  for (const id of state.pending) {
    const tv = state.trials.get(id);
    const stage = tv?.trial.stage;
    if (!tv || !stage || runnable(tv, fleet)) continue;
    const w = out.get(stage.name);
    if (!w) continue;
    w.trials++;
    note(
      stage.name,
      eligibleClasses(stage, fleet).length === 0 || tv.trial.gpuClass === ANY_GPU_CLASS
        ? neededWorker(stage)
        : `a ${tv.trial.gpuClass} worker`,
    );
  }
  const byIndex = new Map(stages.map((s) => [s.index, s]));
  for (const v of state.candidates.values()) {
    if (v.state !== CandidateState.ACTIVE) continue;
    const stage = byIndex.get(v.stageIndex);
    if (!stage || eligibleClasses(stage, fleet).length > 0) continue;
    if (state.trialsOf(v.candidate.id, v.parent, stage.name).some((t) => !t.result)) continue;
    out.get(stage.name)!.candidates++;
    note(stage.name, neededWorker(stage));
  }
  for (const [stage, set] of reasons) out.get(stage)!.waitingFor = [...set].sort().join(' or ');
  return out;
}

/** One line per stage that waits: "scale: 2 trials, 1 candidate waiting for a worker with >= 40000 MB". */
export function waitingLines(waiting: ReadonlyMap<string, StageWaiting>): string[] {
  const lines: string[] = [];
  for (const [stage, w] of waiting) {
    if (!w.trials && !w.candidates) continue;
    const parts = [
      w.trials ? `${w.trials} trial${w.trials === 1 ? '' : 's'}` : '',
      w.candidates ? `${w.candidates} candidate${w.candidates === 1 ? '' : 's'}` : '',
    ].filter(Boolean);
    lines.push(`${stage}: ${parts.join(', ')} waiting for ${w.waitingFor}`);
  }
  return lines;
}

/** Warnings about stages no live worker can run (empty when every stage has a worker). */
export function stageWarnings(stages: readonly Stage[], fleet: readonly FleetClass[]): string[] {
  if (fleet.length === 0) return [];
  return stages.map((s) => unrunnableStage(s, fleet)).filter((w): w is string => w !== undefined);
}
