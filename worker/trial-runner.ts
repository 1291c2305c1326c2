/**
 * Runs one trial end to end on this host — code, work tree, patch, overrides,
 * integrity, command, parsing — and returns its result. Never throws: every
 * failure becomes a status with a reason (infra when it is the worker's).
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { CurvePoint } from '../common/curve.js';
import { ArswarmError } from '../common/errors.js';
import { checkPatch, targetSpecRules } from '../common/diff/index.js';
import { token } from '../common/subjects.js';
import { TrialStatus, type Trial, type TrialResultSchema } from '../gen/arswarm/v1/trial_pb.js';
import { applyPatch } from './apply-patch.js';
import { classify } from './classify.js';
import type { CodeCache } from './code-cache.js';
import { clockFraction, CurveReader, wirePoints } from './curve-reader.js';
import { gpuMemoryOfPids, type Device } from './gpus.js';
import { checkLocked, compareHashes, hashFiles, watchedFiles } from './integrity.js';
import type { LogStore } from './log-store.js';
import type { ResolvedWorkerOptions } from './options.js';
import { parseOutput } from './output-parser.js';
import { applyOverrides } from './overrides.js';
import { runCommand } from './run-command.js';
import { originals, semanticGate } from './semantic-gate.js';
import { checkTrainingSeconds } from './timing-check.js';
import { TargetEnvs } from './target-env.js';
import type { Launcher } from './launcher.js';
import { handOver, type TrialIds } from './isolation.js';
import { loopEnv, trialVars } from './trial-env.js';

/** Output kept in memory for parsing the metric block. */
const PARSE_BYTES = 256 * 1024;

export type TrialResultInit = MessageInitShape<typeof TrialResultSchema>;

export interface TrialContext {
  readonly workerId: string;
  readonly device: Device;
  readonly options: ResolvedWorkerOptions;
  readonly cache: CodeCache;
  readonly logs: LogStore;
  /** Parent of the per-trial work trees of this loop. */
  readonly trialsDir: string;
  /** Aborted when the worker must hand the trial back (drain deadline). */
  readonly signal: AbortSignal;
  readonly deliveryCount: number;
  /** Starts the command (a standby process); absent = spawn directly. */
  readonly launcher?: Launcher;
  /** Ids the command runs as (isolation on): the work tree and a fresh HOME are handed to them first. */
  readonly trialIds?: TrialIds;
  readonly onProgress?: (p: number) => void;
  readonly onSpawn?: (pgid: number) => void;
  /** The command's main process exited. */
  readonly onExit?: () => void;
  /** New learning-curve points, as the output shows them (target.progress). */
  readonly onCurvePoints?: (points: CurvePoint[]) => void;
  /** Aborted on a mid-slot stop; its reason (a string) becomes the result's. */
  readonly stopSignal?: AbortSignal;
}

export interface TrialRun {
  readonly result: TrialResultInit;
  /** The work tree to remove once the result is acked. */
  readonly workDir?: string;
  readonly spawnedAt?: number;
  readonly exitedAt?: number;
}

/** A failure before the run, with the status it earns. */
class SetupFailure extends Error {
  constructor(
    readonly status: TrialStatus,
    message: string,
  ) {
    super(message);
  }
}

function infraReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return `disk full: ${(err as Error).message}`;
  return ArswarmError.from(err).message;
}

/** The last `bytes` of a string, cut on a character boundary. */
function lastBytes(text: string, bytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= bytes) return text;
  let start = buf.length - bytes;
  while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}

const ms = (a: number, b: number) => BigInt(Math.max(0, Math.round(b - a)));

/**
 * The directory of the target's prepared environment (target.setup), made on
 * this worker's first trial of its key. A missing input is the commit's fault
 * (integrity); a failing setup command is infra, so the trial is retried.
 */
async function prepareEnv(trial: Trial, tree: string, logFile: string, ctx: TrialContext): Promise<string> {
  const { options, device } = ctx;
  try {
    return await TargetEnvs.for(join(options.workDir, 'envs')).ensure({
      spec: trial.target!,
      setup: trial.target!.setup!,
      tree,
      env: loopEnv({ base: process.env, cacheEnv: options.cacheEnv, gpuIndex: device.gpu?.index }),
      logFile,
      maxLogBytes: options.maxLogBytes,
      killGraceMs: options.killGraceMs,
      signal: ctx.signal,
    });
  } catch (err) {
    if (err instanceof ArswarmError && err.reason === 'setup_input_missing')
      throw new SetupFailure(TrialStatus.INTEGRITY, err.message);
    throw err;
  }
}

/** Runs a trial; `receivedAt` is performance.now() when the message arrived. */
export async function runTrial(trial: Trial, receivedAt: number, ctx: TrialContext): Promise<TrialRun> {
  const { options, device } = ctx;
  const startedAtMs = Date.now();
  const base: TrialResultInit = {
    trialId: trial.id,
    gpuClass: device.gpuClass,
    workerId: ctx.workerId,
    startedAtMs: BigInt(startedAtMs),
    trial,
  };
  const logFile = ctx.logs.pathFor(trial.id, ctx.deliveryCount);
  const workDir = join(ctx.trialsDir, token(trial.id));
  const target = trial.target;
  let fetchedAt = receivedAt;
  const fail = (status: TrialStatus, reason: string, setupEnd = performance.now()): TrialRun => {
    void appendFile(logFile, `[arswarm] ${TrialStatus[status]}: ${reason}\n`).catch(() => undefined);
    return {
      workDir,
      result: {
        ...base,
        status,
        reason,
        logTail: reason,
        fetchMs: ms(receivedAt, fetchedAt),
        setupMs: ms(fetchedAt, setupEnd),
        finishedAtMs: BigInt(Date.now()),
      },
    };
  };
  if (ctx.signal.aborted) return fail(TrialStatus.INFRA, 'worker shutting down');
  if (!target || !trial.stage) return fail(TrialStatus.INTEGRITY, 'trial has no target or stage');

  // 1. Code.
  try {
    await ctx.cache.ensure(trial.parentCommit);
  } catch (err) {
    const e = ArswarmError.from(err);
    return fail(e.reason === 'bad_commit' ? TrialStatus.INTEGRITY : TrialStatus.INFRA, infraReason(err));
  }
  fetchedAt = performance.now();

  // 2. Work tree, patch, overrides, hashes before the run.
  let watched: { locked: string[]; editable: string[] };
  let before: Map<string, string | null>;
  let envVars: Record<string, string> = {};
  let isolatedVars: Record<string, string> = {};
  try {
    await ctx.cache.checkout(trial.parentCommit, workDir);
    // The environment first, from the parent's own files: its inputs are locked, so no patch changes it.
    if (target.setup) envVars = { [target.setup.envVar]: await prepareEnv(trial, workDir, logFile, ctx) };
    let changed: string[] = [];
    if (trial.diff.trim() !== '') {
      let sections;
      try {
        ({ files: changed, sections } = checkPatch(trial.diff, targetSpecRules(target)));
      } catch (err) {
        const e = ArswarmError.from(err);
        throw new SetupFailure(
          TrialStatus.INTEGRITY,
          `patch refused (${e.reason ?? 'invalid'}): ${e.message}`,
        );
      }
      const parentTexts = await originals(workDir, target, changed);
      try {
        await applyPatch(workDir, sections);
      } catch (err) {
        if (err instanceof ArswarmError && err.reason === 'patch_does_not_apply') {
          throw new SetupFailure(TrialStatus.INTEGRITY, `patch does not apply: ${err.message}`);
        }
        throw err;
      }
      // The intake's semantic check again, on what will run (before the overrides, which are ours).
      const refused = await semanticGate(workDir, target, parentTexts);
      if (refused) throw new SetupFailure(refused.status, refused.reason);
    }
    try {
      changed = [...new Set([...changed, ...(await applyOverrides(workDir, target.overrides))])];
    } catch (err) {
      if (err instanceof ArswarmError) throw new SetupFailure(TrialStatus.INTEGRITY, err.message);
      throw err;
    }
    watched = watchedFiles(target, changed);
    before = await hashFiles(workDir, [...watched.locked, ...watched.editable]);
    const bad = checkLocked(before, target);
    if (bad) throw new SetupFailure(TrialStatus.INTEGRITY, bad);
    // Last, after the hashes: from here on the trial's uid owns the tree.
    if (ctx.trialIds) isolatedVars = await handOver(workDir, ctx.trialIds);
  } catch (err) {
    if (err instanceof SetupFailure) return fail(err.status, err.message);
    return fail(TrialStatus.INFRA, infraReason(err));
  }
  if (ctx.signal.aborted) return fail(TrialStatus.INFRA, 'worker shutting down');

  // 3. Run.
  const stage = trial.stage;
  const timeoutS = stage.timeoutSeconds || stage.budgetSeconds + 120;
  const gpu = device.gpu;
  // The learning curve: a line without its own pct or fraction is placed by
  // the worker's clock over the slot the trial gets (its TIME_BUDGET).
  let runStart = performance.now();
  const curve = new CurveReader({
    pattern: target.progress?.pattern ?? '',
    elapsedFraction: () => clockFraction(performance.now() - runStart, stage.budgetSeconds * 1000),
    onInvalidPattern: (error) =>
      options.logger('warn', 'progress pattern refused; the trial runs without a learning curve', {
        trialId: trial.id,
        error,
      }),
  });
  const onCurve = (points: CurvePoint[]) => {
    if (points.length) ctx.onCurvePoints?.(points);
  };
  const outcome = await runCommand({
    command: target.command,
    cwd: workDir,
    launcher: ctx.launcher,
    env: loopEnv({ base: process.env, cacheEnv: options.cacheEnv, gpuIndex: gpu?.index }),
    vars: { ...trialVars(trial), ...envVars, ...isolatedVars },
    ids: ctx.trialIds,
    timeoutMs: timeoutS * 1000,
    killGraceMs: options.killGraceMs,
    logFile,
    maxLogBytes: options.maxLogBytes,
    keepBytes: Math.max(PARSE_BYTES, options.logTailBytes),
    signal: ctx.signal,
    sampleMs: options.memorySampleMs,
    sampleGpu: gpu ? (pids) => gpuMemoryOfPids(options.nvidiaSmi, gpu, pids) : undefined,
    onProgress: ctx.onProgress,
    onOutput: curve.active ? (text, stream) => onCurve(curve.push(text, stream)) : undefined,
    onSpawn: (pgid) => {
      runStart = performance.now();
      ctx.onSpawn?.(pgid);
    },
    onExit: ctx.onExit,
    stopSignal: ctx.stopSignal,
  });
  onCurve(curve.end());
  const points = wirePoints(curve.curve());
  if (outcome.stopped) {
    // Stopped on the coordinator's request: no metric, whatever the run printed
    // or however the kill ended it, and never retried (docs/decisions.md).
    const reason = String(ctx.stopSignal?.reason ?? 'stopped mid-slot');
    void appendFile(logFile, `[arswarm] STOPPED: ${reason}\n`).catch(() => undefined);
    return {
      workDir,
      spawnedAt: outcome.spawnedAt,
      exitedAt: outcome.exitedAt,
      result: {
        ...base,
        status: TrialStatus.STOPPED,
        reason,
        peakMemoryMb: Math.round((outcome.peakGpuMb ?? (gpu ? 0 : outcome.peakRssMb)) * 10) / 10,
        fetchMs: ms(receivedAt, fetchedAt),
        setupMs: ms(fetchedAt, outcome.spawnedAt),
        runMs: ms(outcome.spawnedAt, outcome.exitedAt),
        reportMs: ms(outcome.exitedAt, performance.now()),
        logTail: lastBytes(outcome.output, options.logTailBytes),
        exitCode: outcome.exitCode ?? -1,
        signal: outcome.signal ?? '',
        curve: points,
        finishedAtMs: BigInt(Date.now()),
      },
    };
  }

  // 4. Hashes after the run, parsing, verdict.
  let integrity: string | undefined;
  try {
    const after = await hashFiles(workDir, [...watched.locked, ...watched.editable]);
    integrity = compareHashes(before, after, 'during the run');
  } catch (err) {
    integrity = `cannot hash files after the run: ${ArswarmError.from(err).message}`;
  }
  const parsed = parseOutput(outcome.output);
  if (!integrity && outcome.exitCode === 0 && !outcome.timedOut && !outcome.aborted)
    integrity = checkTrainingSeconds(
      parsed.metrics.training_seconds,
      (outcome.exitedAt - outcome.spawnedAt) / 1000,
      stage.budgetSeconds,
      target.integrity,
    );
  const verdict = classify(outcome, parsed, target.metric || 'val_bpb', integrity);
  const printedPeak = parsed.metrics.peak_vram_mb;
  const peak = outcome.peakGpuMb ?? printedPeak ?? (gpu ? 0 : outcome.peakRssMb);
  const finished = performance.now();
  return {
    workDir,
    spawnedAt: outcome.spawnedAt,
    exitedAt: outcome.exitedAt,
    result: {
      ...base,
      status: verdict.status,
      reason: verdict.reason,
      metric: verdict.metric ?? 0,
      metrics: parsed.metrics,
      peakMemoryMb: Math.round(peak * 10) / 10,
      fetchMs: ms(receivedAt, fetchedAt),
      setupMs: ms(fetchedAt, outcome.spawnedAt),
      runMs: ms(outcome.spawnedAt, outcome.exitedAt),
      reportMs: ms(outcome.exitedAt, finished),
      logTail: lastBytes(outcome.output, options.logTailBytes),
      exitCode: outcome.exitCode ?? -1,
      signal: outcome.signal ?? '',
      curve: points,
      finishedAtMs: BigInt(Date.now()),
    },
  };
}
