/**
 * Every NATS stream, subject, consumer and bucket name arswarm uses. No other
 * module spells a subject: they all call these functions.
 */

/** @default 'arswarm' */
export const DEFAULT_PREFIX = 'arswarm';

/** The class a trial has when any worker may run it. */
export const ANY_GPU_CLASS = 'any';

/** Names for one swarm; a prefix keeps swarms (and tests) apart on one server. */
export interface Names {
  readonly prefix: string;
  /** Work-queue stream holding trials for every stage. */
  readonly trialsStream: string;
  /** Stream of worker reports (trial started / finished). */
  readonly resultsStream: string;
  /** The ledger: every fact, in order. */
  readonly eventsStream: string;
  /** KV bucket of worker heartbeats (TTL'd). */
  readonly workersBucket: string;
  /** KV bucket of control flags read by workers (e.g. drain requests). */
  readonly controlBucket: string;
  readonly trialsAll: string;
  readonly resultsAll: string;
  readonly resultFinished: string;
  readonly resultStarted: string;
  readonly events: string;
  /** Durable consumer the coordinator reads results with. */
  readonly resultsConsumer: string;
  /** Subject of one stage's queue for one GPU class. */
  trials(stage: string, gpuClass?: string): string;
  /** Durable pull consumer for one stage's queue for one GPU class. */
  stageConsumer(stage: string, gpuClass?: string): string;
}

/** Turns any string into a token safe in subjects and consumer names. */
export function token(s: string): string {
  const t = s.replace(/[^A-Za-z0-9_-]/g, '_');
  if (!t) throw new Error('empty NATS name token');
  return t;
}

/** Builds all names for a prefix. */
export function names(prefix: string = DEFAULT_PREFIX): Names {
  const p = token(prefix);
  const P = p.toUpperCase();
  return {
    prefix: p,
    trialsStream: `${P}_TRIALS`,
    resultsStream: `${P}_RESULTS`,
    eventsStream: `${P}_EVENTS`,
    workersBucket: `${P}_workers`,
    controlBucket: `${P}_control`,
    trialsAll: `${p}.trials.>`,
    resultsAll: `${p}.results.>`,
    resultFinished: `${p}.results.finished`,
    resultStarted: `${p}.results.started`,
    events: `${p}.events`,
    resultsConsumer: 'coordinator',
    trials: (stage, gpuClass = ANY_GPU_CLASS) => `${p}.trials.${token(stage)}.${token(gpuClass)}`,
    stageConsumer: (stage, gpuClass = ANY_GPU_CLASS) => `stage_${token(stage)}_${token(gpuClass)}`,
  };
}
