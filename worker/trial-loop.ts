/**
 * One trial loop (one per GPU): pull the most important trial this device may
 * run, run it, publish the result, and only then ack. While it runs the
 * message gets in-progress acks so JetStream never redelivers a live trial.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { decode, encode } from '../common/codec.js';
import { ArswarmError } from '../common/errors.js';
import { pullOne, type PulledMsg } from '../common/nats-pull.js';
import { dedupeIds, token, type Names } from '../common/subjects.js';
import {
  TrialSchema,
  TrialResultSchema,
  TrialStartedSchema,
  TrialStatus,
  WorkerState,
  type Trial,
} from '../gen/arswarm/v1/trial_pb.js';
import type { CodeCache } from './code-cache.js';
import type { ConsumerCache } from './consumer-cache.js';
import type { Device } from './gpus.js';
import { killTrialUid, trialHome, type TrialIds } from './isolation.js';
import { pullPlan, type LadderWatch } from './ladder.js';
import { Launcher } from './launcher.js';
import { LogStore } from './log-store.js';
import { loopEnv } from './trial-env.js';
import type { ResolvedWorkerOptions } from './options.js';
import { groupMembers, processEnvVar, signalGroup } from './process-group.js';
import { progressPublisher } from './progress-publisher.js';
import { StopListener } from './stop-listener.js';
import { runTrial, type TrialResultInit, type TrialRun } from './trial-runner.js';

/** What a heartbeat says about a loop. */
export interface LoopStatus {
  readonly workerId: string;
  readonly device: Device;
  readonly state: WorkerState;
  readonly currentTrialId: string;
  readonly progress: number;
  readonly trialsDone: number;
  readonly idleSeconds: number;
}

export interface TrialLoopDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly names: Names;
  readonly ladder: LadderWatch;
  readonly cache: CodeCache;
  readonly consumers: ConsumerCache;
  readonly options: ResolvedWorkerOptions;
  /** The ids trials run as when isolation is on; undefined = as the worker. */
  readonly trialIds?: TrialIds;
  /** This loop alone runs as trialIds (a given uid): after each trial, every process of that uid is killed. */
  readonly ownsTrialUid?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long into a run the next trial's standby process is forked. */
export const STANDBY_DELAY_MS = 1000;

/** First pause after an infra failure of this worker's own; doubles per consecutive one. */
export const INFRA_BACKOFF_BASE_MS = 1000;
/** Longest pause between pulls after repeated infra failures. */
export const INFRA_BACKOFF_MAX_MS = 30_000;

export class TrialLoop {
  private stopping = false;
  private readonly kill = new AbortController();
  private current: Trial | undefined;
  private progress = 0;
  private trialsDone = 0;
  private idleMs = 0;
  private infraStreak = 0;
  private readonly trialsDir: string;
  private readonly pidFile: string;
  private readonly logs: LogStore;
  private readonly launcher: Launcher;
  /**
   * The previous trial's result being published and acked while this loop
   * already pulls and sets up the next one (never rejects). One at a time:
   * a trial's result waits for the one before it to be out.
   */
  private reporting: Promise<void> | undefined;
  private reportingTrialId = '';
  /**
   * The next trial, pulled once the running one's process exited (its GPU is
   * free then), while its output is checked and its result goes out.
   */
  private pulledAhead: Promise<PulledMsg | null> | undefined;

  constructor(
    readonly workerId: string,
    readonly device: Device,
    private readonly deps: TrialLoopDeps,
  ) {
    const dir = token(workerId);
    this.trialsDir = join(deps.options.workDir, 'trials', dir);
    this.pidFile = join(deps.options.workDir, 'run', `${dir}.json`);
    this.logs = new LogStore(join(deps.options.workDir, 'logs', dir), deps.options.maxLogFiles);
    const env = loopEnv({ base: process.env, cacheEnv: deps.options.cacheEnv, gpuIndex: device.gpu?.index });
    this.launcher = new Launcher(this.trialsDir, env, deps.trialIds);
  }

  /** The ids this loop's trials run as (undefined: as the worker). */
  get trialIds(): TrialIds | undefined {
    return this.deps.trialIds;
  }

  /** For heartbeats. */
  status(): LoopStatus {
    return {
      workerId: this.workerId,
      device: this.device,
      state: this.current ? WorkerState.RUNNING : this.stopping ? WorkerState.DRAINING : WorkerState.IDLE,
      currentTrialId: this.current?.id ?? '',
      progress: this.progress,
      trialsDone: this.trialsDone,
      idleSeconds: this.idleMs / 1000,
    };
  }

  /** Prepares dirs and kills a trial left running by a previous process with this id. */
  async init(): Promise<void> {
    await this.killStale();
    await rm(this.trialsDir, { recursive: true, force: true });
    await mkdir(this.trialsDir, { recursive: true });
    // Isolated trials may enter this dir (to reach their own tree) but not list it.
    if (this.deps.trialIds) await chmod(this.trialsDir, 0o711);
    await mkdir(join(this.deps.options.workDir, 'run'), { recursive: true });
    await this.logs.init();
    for (const dir of Object.values(this.deps.options.cacheEnv)) await mkdir(dir, { recursive: true });
    this.launcher.prepare();
  }

  /** Stop pulling; the current trial goes on. */
  stop(): void {
    this.stopping = true;
  }

  /** Kill the current trial and hand it back (infra). */
  abort(): void {
    this.stopping = true;
    this.kill.abort();
  }

  /** Pulls and runs trials until stopped. */
  async run(): Promise<void> {
    try {
      await this.loop();
    } finally {
      // A trial pulled ahead goes back to the queue at once (not after its ack wait).
      await this.release();
      // The last result goes out before the loop counts as ended (the worker drains NATS after).
      await this.reporting;
      this.launcher.close();
    }
  }

  private async loop(): Promise<void> {
    const log = this.deps.options.logger;
    while (!this.stopping) {
      let msg: PulledMsg | null;
      const waitStart = performance.now();
      const ahead = this.pulledAhead;
      this.pulledAhead = undefined;
      try {
        msg = await (ahead ?? this.next());
      } catch (err) {
        log('warn', 'pull failed', { workerId: this.workerId, error: ArswarmError.from(err).message });
        await sleep(500);
        continue;
      } finally {
        this.idleMs += performance.now() - waitStart;
      }
      if (!msg) continue;
      if (this.stopping) {
        msg.nak();
        break;
      }
      const status = await this.handle(msg);
      // A worker whose own environment fails (disk full, code fetch) must not
      // drain the queue into infra results: it backs off, longer each time.
      if (status === TrialStatus.INFRA && !this.stopping) {
        this.infraStreak++;
        const ms = Math.min(INFRA_BACKOFF_BASE_MS * 2 ** (this.infraStreak - 1), INFRA_BACKOFF_MAX_MS);
        log('warn', 'infra failure: backing off before the next pull', { workerId: this.workerId, ms });
        // Not held through the pause: another worker may run it now.
        await this.release();
        await sleep(ms);
      } else if (status !== undefined) this.infraStreak = 0;
    }
  }

  /**
   * The run's process exited: the GPU is free, so the next trial is pulled
   * now, while this one's hashes, output and result are dealt with (a few
   * ms of holding a trial, not the slot's end that pulling during the run
   * would hold it for; docs/decisions.md).
   */
  private pullAhead(): void {
    if (this.stopping || this.pulledAhead) return;
    const p = this.next();
    p.catch(() => undefined); // awaited (and its error handled) by the loop
    this.pulledAhead = p;
  }

  /** Hands a trial pulled ahead back to its queue. */
  private async release(): Promise<void> {
    const ahead = this.pulledAhead;
    this.pulledAhead = undefined;
    const m = await ahead?.catch(() => null);
    m?.nak();
  }

  private async next(): Promise<PulledMsg | null> {
    const ladder = this.deps.ladder.current;
    if (!ladder) {
      await sleep(200);
      return null;
    }
    const { nc, names, options } = this.deps;
    const plan = pullPlan(ladder, this.device, names);
    for (const t of plan.sweep) {
      if (this.stopping) return null;
      if (!(await this.deps.consumers.exists(t.consumer))) continue;
      const m = await pullOne(nc, names.trialsStream, t.consumer, { noWait: true });
      if (m) return m;
    }
    let poll: string | undefined;
    for (const t of plan.longPoll)
      if (!this.stopping && (await this.deps.consumers.exists(t.consumer))) {
        poll = t.consumer;
        break;
      }
    if (!poll) {
      await sleep(options.pollExpiresMs);
      return null;
    }
    return pullOne(nc, names.trialsStream, poll, { expiresMs: options.pollExpiresMs });
  }

  /** Runs one pulled trial; resolves to the status it reported (undefined when none was). */
  private async handle(msg: PulledMsg): Promise<TrialStatus | undefined> {
    const receivedAt = performance.now();
    const { js, names, options } = this.deps;
    const log = options.logger;
    let trial: Trial;
    try {
      trial = decode(TrialSchema, msg.data);
    } catch (err) {
      log('error', 'undecodable trial message dropped', {
        error: ArswarmError.from(err).message,
        subject: msg.subject,
      });
      msg.term('undecodable');
      return undefined;
    }
    // A redelivery of the trial whose result is still going out: that one first (its work tree is this one's).
    if (this.reportingTrialId === trial.id) await this.reporting;
    const ladder = this.deps.ladder.current;
    const ackWaitMs = Number(ladder?.ackWaitMs ?? 0n) || 30_000;
    const working = setInterval(() => msg.working(), Math.max(100, Math.min(ackWaitMs / 3, 10_000)));
    let standby: NodeJS.Timeout | undefined;
    this.current = trial;
    this.progress = 0;
    // Mid-slot stopping: live curve points out, stop requests in, for this trial only.
    const curveOut = progressPublisher({
      nc: this.deps.nc,
      names,
      trialId: trial.id,
      workerId: this.workerId,
      intervalMs: options.progressIntervalMs,
      logger: log,
    });
    const stops = new StopListener(this.deps.nc, names, trial.id, log);
    let run: TrialRun | undefined;
    try {
      const max = ladder?.maxDeliveries ?? 0;
      if (max > 0 && msg.deliveryCount > max) {
        run = {
          result: {
            trialId: trial.id,
            trial,
            status: TrialStatus.CRASH,
            reason: `delivered ${msg.deliveryCount} times (max ${max})`,
            workerId: this.workerId,
            gpuClass: this.device.gpuClass,
            startedAtMs: BigInt(Date.now()),
            finishedAtMs: BigInt(Date.now()),
          },
        };
      } else {
        log('info', 'trial started', {
          workerId: this.workerId,
          trialId: trial.id,
          delivery: msg.deliveryCount,
        });
        js.publish(
          names.resultStarted,
          encode(TrialStartedSchema, {
            trialId: trial.id,
            workerId: this.workerId,
            gpuClass: this.device.gpuClass,
            startedAtMs: BigInt(Date.now()),
          }),
        ).catch((err: unknown) =>
          log('warn', 'TrialStarted not published', { error: ArswarmError.from(err).message }),
        );
        run = await runTrial(trial, receivedAt, {
          workerId: this.workerId,
          device: this.device,
          options,
          cache: this.deps.cache,
          logs: this.logs,
          trialsDir: this.trialsDir,
          signal: this.kill.signal,
          deliveryCount: msg.deliveryCount,
          launcher: this.launcher,
          trialIds: this.deps.trialIds,
          onProgress: (p) => (this.progress = p),
          onCurvePoints: (points) => curveOut.add(points),
          stopSignal: stops.signal,
          onExit: () => {
            stops.exited();
            this.pullAhead();
          },
          onSpawn: (pgid) => {
            stops.open();
            void writeFile(this.pidFile, JSON.stringify({ pgid, trialId: trial.id })).catch(() => undefined);
            // The next trial's standby is forked while this one runs, not between trials
            // (and not at its start, when other loops on the host may be between trials too).
            // Not beside an isolated trial that owns its uid: the trial could tamper with it.
            if (!this.deps.ownsTrialUid)
              standby = setTimeout(() => !this.stopping && this.launcher.prepare(), STANDBY_DELAY_MS);
          },
        });
      }
    } catch (err) {
      log('error', 'trial not acked; it will be redelivered', {
        trialId: trial.id,
        error: ArswarmError.from(err).message,
      });
    } finally {
      curveOut.close();
      clearTimeout(standby);
      this.current = undefined;
      // Before the next trial may start: its pid file and its uid's processes are the next one's.
      await rm(this.pidFile, { force: true }).catch(() => undefined);
      await this.killLeftovers(trial);
      // Usually a no-op: the standby was started during the run (not when the trial failed before it).
      if (!this.stopping) this.launcher.prepare();
    }
    // The result goes out while the next trial is pulled and set up (the gap
    // between two runs is the pull and the setup, not also the publish and ack).
    // Still published before it is acked, and acked only then: a crash
    // meanwhile loses nothing, JetStream redelivers both.
    await this.reporting;
    const report = this.report(msg, trial, run, receivedAt).finally(() => {
      // After the result is out: a late request meanwhile heard `not running`, later ones get no responders.
      stops.close();
      clearInterval(working);
    });
    const mine = report.then(() => {
      if (this.reporting === mine) {
        this.reporting = undefined;
        this.reportingTrialId = '';
      }
    });
    this.reporting = mine;
    this.reportingTrialId = trial.id;
    return run?.result.status;
  }

  /** Publishes a trial's result, acks it, then removes its work tree; never rejects. */
  private async report(
    msg: PulledMsg,
    trial: Trial,
    run: TrialRun | undefined,
    receivedAt: number,
  ): Promise<void> {
    const { options } = this.deps;
    const log = options.logger;
    try {
      if (!run) return; // the loop failed before a result: not acked, JetStream redelivers it
      const publishedAt = await this.publish(run.result);
      if (publishedAt === undefined) return; // never published: JetStream redelivers it
      await msg.ackSync();
      const ackedAt = performance.now();
      this.trialsDone++;
      options.onTrialTimings?.({
        trialId: trial.id,
        workerId: this.workerId,
        receivedAt,
        spawnedAt: run.spawnedAt,
        exitedAt: run.exitedAt,
        publishedAt,
        ackedAt,
      });
      log('info', 'trial finished', {
        workerId: this.workerId,
        trialId: trial.id,
        status: TrialStatus[run.result.status ?? 0],
        reason: run.result.reason,
        metric: run.result.metric,
      });
    } catch (err) {
      log('error', 'trial not acked; it will be redelivered', {
        trialId: trial.id,
        error: ArswarmError.from(err).message,
      });
    } finally {
      await this.cleanup(trial);
    }
  }

  /** Publishes the result (deduplicated by trial id), retrying while NATS is away; the time it was confirmed. */
  private async publish(result: TrialResultInit): Promise<number | undefined> {
    const { js, names, options } = this.deps;
    const data = encode(TrialResultSchema, result);
    for (let attempt = 0; attempt < 30; attempt++) {
      try {
        await js.publish(names.resultFinished, data, {
          msgID: dedupeIds.resultFinished(result.trialId ?? ''),
        });
        return performance.now();
      } catch (err) {
        options.logger('warn', 'result publish failed; retrying', {
          trialId: result.trialId,
          error: ArswarmError.from(err).message,
        });
        await sleep(Math.min(200 * 2 ** attempt, 2000));
      }
    }
    return undefined;
  }

  /**
   * With isolation, processes that escaped the trial's group die with it,
   * before its tree is removed. The standby goes too (it runs as the trial
   * uid, so trial code could have tampered with it); the next one is forked
   * after the sweep.
   */
  private async killLeftovers(trial: Trial): Promise<void> {
    const ids = this.deps.trialIds;
    if (!ids || !this.deps.ownsTrialUid) return;
    this.launcher.close();
    const killed = await killTrialUid(ids.uid, new Set());
    if (killed.length)
      this.deps.options.logger('warn', 'killed processes the trial left outside its process group', {
        workerId: this.workerId,
        trialId: trial.id,
        pids: killed,
      });
  }

  private async cleanup(trial: Trial): Promise<void> {
    try {
      const tree = join(this.trialsDir, token(trial.id));
      await this.deps.cache.remove(tree);
      await rm(trialHome(tree), { recursive: true, force: true });
      await this.logs.rotate();
    } catch (err) {
      this.deps.options.logger('warn', 'cleanup failed', { error: ArswarmError.from(err).message });
    }
  }

  private async killStale(): Promise<void> {
    try {
      const { pgid, trialId } = JSON.parse(await readFile(this.pidFile, 'utf8')) as {
        pgid: number;
        trialId: string;
      };
      // Only a group whose leader still carries that trial's id: pids get reused.
      const { pids } = await groupMembers(pgid);
      const envs = await Promise.all([...pids].map((pid) => processEnvVar(pid, 'ARSWARM_TRIAL_ID')));
      if (envs.includes(trialId)) {
        signalGroup(pgid, 'SIGKILL');
        this.deps.options.logger('warn', 'killed a trial left running by a previous worker process', {
          pgid,
          trialId,
        });
      }
    } catch {
      // no pid file: nothing left behind
    }
    await rm(this.pidFile, { force: true });
  }
}
