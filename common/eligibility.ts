/**
 * Which hardware may run a stage. One predicate for both sides: workers use it
 * to choose the queues they pull, the coordinator to choose where a
 * candidate's replicates and the baselines go, so the two never disagree.
 */

/**
 * Whether a device (or a GPU class) with `memoryMb` of GPU memory may run a
 * stage with a floor of `minGpuMemoryMb`. CPU devices have 0 MB, so they take
 * only stages without a floor.
 */
export function canRunStage(minGpuMemoryMb: number, memoryMb: number): boolean {
  return minGpuMemoryMb === 0 || (memoryMb > 0 && memoryMb >= minGpuMemoryMb);
}
