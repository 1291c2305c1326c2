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
  /** Stream of ledger snapshots: chunks of a serialized state, and manifests naming them. */
  readonly snapshotsStream: string;
  readonly snapshotsAll: string;
  /** Subject of the manifest of every snapshot (the last one is the latest). */
  readonly snapshotManifest: string;
  /** Subject of the chunks of the snapshot taken at a ledger sequence. */
  snapshotChunks(seq: bigint | number): string;
  /** Subject filter matching every snapshot's chunks. */
  readonly snapshotChunksAll: string;
  readonly trialsAll: string;
  readonly resultsAll: string;
  readonly resultFinished: string;
  readonly resultStarted: string;
  readonly events: string;
  /** Durable consumer the coordinator reads results with. */
  readonly resultsConsumer: string;
  /** Subject of one stage's queue for one GPU class. */
  trials(stage: string, gpuClass?: string): string;
  /** Core-NATS subject a worker publishes a running trial's learning-curve points on (TrialProgress). */
  progress(trialId: string): string;
  /** Subject filter matching every trial's progress. */
  readonly progressAll: string;
  /** Core-NATS request/reply subject a worker answers while it runs a trial (StopTrialRequest → StopTrialReply). */
  stopTrial(trialId: string): string;
  /** Subject filter matching every trial's stop subject. */
  readonly stopAll: string;
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
    snapshotsStream: `${P}_SNAPSHOTS`,
    snapshotsAll: `${p}.snapshots.>`,
    snapshotManifest: `${p}.snapshots.manifest`,
    snapshotChunks: (seq) => `${p}.snapshots.chunks.${seq}`,
    snapshotChunksAll: `${p}.snapshots.chunks.>`,
    trialsAll: `${p}.trials.>`,
    resultsAll: `${p}.results.>`,
    resultFinished: `${p}.results.finished`,
    resultStarted: `${p}.results.started`,
    events: `${p}.events`,
    resultsConsumer: 'coordinator',
    trials: (stage, gpuClass = ANY_GPU_CLASS) => `${p}.trials.${token(stage)}.${token(gpuClass)}`,
    progress: (trialId) => `${p}.progress.${token(trialId)}`,
    progressAll: `${p}.progress.>`,
    stopTrial: (trialId) => `${p}.stop.${token(trialId)}`,
    stopAll: `${p}.stop.>`,
    stageConsumer: (stage, gpuClass = ANY_GPU_CLASS) => `stage_${token(stage)}_${token(gpuClass)}`,
  };
}

/** Key of the ladder (stage names, order, requirements) in the control bucket. */
export const LADDER_KEY = 'ladder';

/**
 * JetStream dedupe ids (Nats-Msg-Id) of facts with a natural key: a second
 * append of the same fact within the stream's duplicate window is dropped.
 */
export const dedupeIds = {
  /** A trial queued in the ledger. */
  trialQueued: (trialId: string) => `q.${trialId}`,
  /** A candidate merged into the shared branch. */
  merged: (candidateId: string) => `m.${candidateId}`,
  /** A candidate proposed. */
  proposed: (candidateId: string) => `p.${candidateId}`,
  /** A trial's finished report folded into the ledger. */
  trialFinished: (trialId: string) => `f.${trialId}`,
  /** A gaming audit of a candidate against a parent head. */
  audited: (candidateId: string, parent: string) => `a.${candidateId}.${parent}`,
  /** A trial stopped mid-slot. */
  trialStopped: (trialId: string) => `s.${trialId}`,
  /** A worker's finished report on the results stream. */
  resultFinished: (trialId: string) => `finished.${trialId}`,
} as const;
