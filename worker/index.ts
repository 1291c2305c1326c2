/** The worker's public entry: everything other parts (CLI, tests, benchmarks) may import. */
export { Worker, loopId, type WorkerLifecycle } from './worker.js';
export {
  resolveWorkerOptions,
  defaultWorkDir,
  stderrLogger,
  type WorkerOptions,
  type ResolvedWorkerOptions,
  type WorkerLogger,
  type TrialTimings,
} from './options.js';
export { CPU_CLASS, gpuClass, parseGpuCsv, selectDevices, type Device, type GpuInfo } from './gpus.js';
export { parseOutput, lastProgress, type ParsedOutput } from './output-parser.js';
export { classify, type RunEnd, type Verdict } from './classify.js';
export { CodeCache } from './code-cache.js';
export type { TrialUser } from './isolation.js';
export { pullPlan } from './ladder.js';
export { LADDER_KEY } from '../common/subjects.js';
