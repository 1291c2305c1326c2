/**
 * The fleet as the scheduler sees it: live worker classes with their GPU
 * memory (CPU = 0) and capacity, which of them may run a stage, and which one
 * a candidate's replicates at a stage are pinned to. Pure functions of the
 * heartbeats, so they are tested without a swarm.
 */
import type { WorkerHeartbeat } from '../gen/arswarm/v1/trial_pb.js';
import { canRunStage } from '../common/eligibility.js';

/** One GPU class of live workers. */
export interface FleetClass {
  readonly gpuClass: string;
  /** GPU memory of its smallest device, MB (0 for CPU workers). */
  readonly memoryMb: number;
  /** Live trial loops of this class. */
  readonly workers: number;
}

/** What a stage asks of the hardware. */
export interface StageNeed {
  readonly name: string;
  readonly minGpuMemoryMb: number;
}

/** Code-point order of class names (the same on every machine, unlike localeCompare). */
export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Live classes from heartbeats, sorted by name. */
export function fleetOf(heartbeats: readonly WorkerHeartbeat[]): FleetClass[] {
  const by = new Map<string, { memoryMb: number; workers: number }>();
  for (const hb of heartbeats) {
    const mem = Number(hb.gpuMemoryMb);
    const c = by.get(hb.gpuClass);
    // The smallest device decides: a class whose devices differ in memory must
    // not be sent work that only its largest one can run.
    if (c) {
      c.workers++;
      c.memoryMb = Math.min(c.memoryMb, mem);
    } else by.set(hb.gpuClass, { memoryMb: mem, workers: 1 });
  }
  return [...by].map(([gpuClass, c]) => ({ gpuClass, ...c })).sort((a, b) => byName(a.gpuClass, b.gpuClass));
}

/** Live classes that may run a stage. */
export function eligibleClasses(stage: StageNeed, fleet: readonly FleetClass[]): FleetClass[] {
  return fleet.filter((c) => canRunStage(stage.minGpuMemoryMb, c.memoryMb));
}

/**
 * The class a candidate's replicates at a stage go to: the eligible live
 * class with the least queued work per worker (ties: more workers, then name),
 * so the load spreads in proportion to capacity. Undefined when no live class
 * may run the stage.
 */
export function chooseClass(
  stage: StageNeed,
  fleet: readonly FleetClass[],
  /** Trials queued and not started, per class. */
  queued: ReadonlyMap<string, number>,
): string | undefined {
  const load = (c: FleetClass) => ((queued.get(c.gpuClass) ?? 0) + 1) / c.workers;
  return eligibleClasses(stage, fleet).sort(
    (a, b) => load(a) - load(b) || b.workers - a.workers || byName(a.gpuClass, b.gpuClass),
  )[0]?.gpuClass;
}

/** What a stage waits for when no live worker may run it, in words ("a worker with >= 40000 MB"). */
export function neededWorker(stage: StageNeed): string {
  return stage.minGpuMemoryMb > 0 ? `a worker with >= ${stage.minGpuMemoryMb} MB` : 'a worker';
}

/**
 * Why no live worker may run a stage, or undefined when one may: names the
 * floor and the largest GPU memory in the fleet.
 */
export function unrunnableStage(stage: StageNeed, fleet: readonly FleetClass[]): string | undefined {
  if (eligibleClasses(stage, fleet).length > 0) return undefined;
  if (fleet.length === 0) return `stage ${stage.name}: no live workers`;
  const largest = fleet.reduce((m, c) => (c.memoryMb > m.memoryMb ? c : m));
  const has = largest.memoryMb > 0 ? `${largest.memoryMb} MB on ${largest.gpuClass}` : 'CPU workers only';
  return `stage ${stage.name} needs ${neededWorker(stage)} of GPU memory; the live workers have at most ${has}: its candidates wait`;
}
