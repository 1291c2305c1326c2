/**
 * Pinning a candidate's stage to one GPU class. Results from different
 * classes are never compared, so every replicate of a candidate at a stage
 * runs on one class and is judged against that class's baseline. The pin is
 * not stored apart: it is the class of the candidate's latest class-bound
 * trial at the stage (trials carry their class), so it survives restarts with
 * the ledger. When the pinned class has no live worker left, the stage is
 * re-routed to another class that may run it: its replicates are queued there
 * as new attempts (new trial ids), and the stage is judged on that class.
 */
import { ANY_GPU_CLASS } from '../common/subjects.js';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import {
  byName,
  chooseClass,
  eligibleClasses,
  neededWorker,
  type FleetClass,
  type StageNeed,
} from './fleet.js';
import type { TrialView } from './ledger/state.js';

export interface PinInputs {
  stage: StageNeed;
  /** The candidate's trials at this stage against its current parent, in ledger order. */
  trials: readonly TrialView[];
  fleet: readonly FleetClass[];
  /** Trials queued and not started, per class (for the choice of a class). */
  queued: ReadonlyMap<string, number>;
  /**
   * The fleet view has been watching long enough to have seen every live
   * worker (false right after a coordinator start, when a class missing from
   * the view may only not have sent its heartbeat yet).
   */
  warm: boolean;
  /** Whether a class already has the baseline runs the stage needs. */
  baselineReady(gpuClass: string): boolean;
  /** OK runs a candidate needs at the stage (its replicates, plus any the judge asked for). */
  replicates: number;
}

export type StagePin =
  /** Replicates go to this class's queue and are judged on it. `trials` are the ones that count. */
  | { kind: 'pinned'; gpuClass: string; trials: TrialView[]; reroutedFrom?: string; waiting?: string }
  /** No worker was live when the stage started: its trials sit in the `any` queue. */
  | { kind: 'unpinned'; trials: TrialView[] }
  /** Live workers exist but none may run the stage: nothing is queued yet. */
  | { kind: 'waiting'; reason: string };

/** The class that ran (or is running, or must run) a trial; `any` while an unbound trial waits. */
export function effectiveClass(tv: TrialView): string {
  if (tv.trial.gpuClass !== ANY_GPU_CLASS) return tv.trial.gpuClass;
  return tv.result?.gpuClass || tv.started?.gpuClass || ANY_GPU_CLASS;
}

/** The class with most OK results among the trials, if any. */
function majorityClass(trials: readonly TrialView[]): string | undefined {
  const counts = new Map<string, number>();
  for (const t of trials)
    if (t.result?.status === TrialStatus.OK)
      counts.set(t.result.gpuClass, (counts.get(t.result.gpuClass) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || byName(a[0], b[0]))[0]?.[0];
}

/** Whether the trials of one class already hold everything the stage needs there. */
function complete(trials: readonly TrialView[], replicates: number): boolean {
  const ok = trials.filter((t) => t.result?.status === TrialStatus.OK).length;
  return ok >= replicates && trials.every((t) => t.result);
}

/** Where a candidate's stage runs and which of its trials count. */
export function pinStage(i: PinInputs): StagePin {
  const ofClass = (c: string) => i.trials.filter((t) => effectiveClass(t) === c);
  let pin = i.trials.filter((t) => t.trial.gpuClass !== ANY_GPU_CLASS).at(-1)?.trial.gpuClass;
  if (!pin) {
    const unbound = i.trials;
    // Trials queued before any worker was seen: let them run, then adopt the
    // class most of them ran on (its missing replicates get pinned there).
    if (unbound.some((t) => !t.result) || (unbound.length > 0 && i.fleet.length === 0))
      return { kind: 'unpinned', trials: [...unbound] };
    pin = majorityClass(unbound);
    if (!pin) {
      const chosen = chooseClass(i.stage, i.fleet, i.queued);
      if (chosen) return { kind: 'pinned', gpuClass: chosen, trials: ofClass(chosen) };
      if (i.fleet.length === 0) return { kind: 'unpinned', trials: [...unbound] };
      return { kind: 'waiting', reason: `${i.stage.name}: waiting for ${neededWorker(i.stage)}` };
    }
  }
  const trials = ofClass(pin);
  if (eligibleClasses(i.stage, i.fleet).some((c) => c.gpuClass === pin))
    return { kind: 'pinned', gpuClass: pin, trials };
  // The pinned class has no live worker. Finished work there still counts.
  if (complete(trials, i.replicates) && i.baselineReady(pin))
    return { kind: 'pinned', gpuClass: pin, trials };
  const alt = i.warm ? chooseClass(i.stage, i.fleet, i.queued) : undefined;
  if (alt) return { kind: 'pinned', gpuClass: alt, trials: ofClass(alt), reroutedFrom: pin };
  return { kind: 'pinned', gpuClass: pin, trials, waiting: `${i.stage.name}: waiting for a ${pin} worker` };
}

/** The next attempt number of a replicate: one more than any of its attempts on any class (trial ids stay unique). */
export function nextAttempt(trials: readonly TrialView[], replicate: number): number {
  let max = 0;
  for (const t of trials) if (t.trial.replicate === replicate) max = Math.max(max, t.trial.attempt);
  return max + 1;
}
