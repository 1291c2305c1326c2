/**
 * The coordinator's side of mid-slot stopping: it follows the learning-curve
 * points workers publish while they run trials (names.progressAll), judges
 * each running candidate trial of a stage with `early_stop` against its
 * parent's same-class baselines (decide.ts, rule.ts), and stops the ones
 * clearly worse.
 *
 * A stop is a decision first and an action second: the TrialStopped fact
 * (with the evidence of the look) is appended to the ledger, so the
 * scheduler rejects the candidate's stage and the journal shows why, and
 * only then is the worker asked to stop the run. If the request is lost (no
 * answer, a worker between trials, a coordinator restart) the trial's
 * progress keeps coming, and every such message re-sends the request, at
 * most every `resendMs`. After a restart the stops are in the ledger and the
 * curves start again from the next progress messages.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { decode, encode } from '../../common/codec.js';
import type { Config } from '../../common/config.js';
import { ArswarmError } from '../../common/errors.js';
import { dedupeIds, type Names } from '../../common/subjects.js';
import { CandidateState } from '../../gen/arswarm/v1/candidate_pb.js';
import {
  StopTrialReplySchema,
  StopTrialRequestSchema,
  TrialProgressSchema,
} from '../../gen/arswarm/v1/trial_pb.js';
import type { Ledger } from '../ledger/ledger.js';
import { judgedTrial, judgeTrial, looksPassed, stopFact, worthStopping, type JudgedTrial } from './decide.js';
import { LiveCurves } from './live-curves.js';
import { curveOf } from './reference.js';
import type { StopJudgement } from './rule.js';

/** How long a stop request waits for the worker's reply. @default 2000 */
export const STOP_REQUEST_TIMEOUT_MS = 2000;
/** Least time between two stop requests for one trial. @default 5000 */
export const STOP_RESEND_MS = 5000;
/** Longest wait in close() for a stop being recorded. @default 5000 */
const CLOSE_WAIT_MS = 5000;
/** Least time between two log lines about malformed progress messages. @default 10000 */
const MALFORMED_LOG_MS = 10_000;

export interface StopperDeps {
  config: Config;
  nc: NatsConnection;
  names: Names;
  ledger: Ledger;
  /** Runs a ledger change in turn with the scheduler and result handling. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** The GPU class of a live worker, from its heartbeat. */
  classOf(workerId: string): string | undefined;
  log(msg: string): void;
  /** Forget a running trial's curve after this long without progress (the stage consumers' ack wait). */
  idleMs: number;
  /** @default STOP_REQUEST_TIMEOUT_MS */
  requestTimeoutMs?: number;
  /** @default STOP_RESEND_MS */
  resendMs?: number;
  /** @default Date.now */
  now?: () => number;
}

export class Stopper {
  private readonly live: LiveCurves;
  /** What a trial was last judged on (looks passed, baselines): unchanged input, same answer. */
  private readonly judgedOn = new Map<string, string>();
  /** When a stop request was last sent, per stopped trial whose result is not in. */
  private readonly sentAt = new Map<string, number>();
  /** Trials whose stop is being recorded. */
  private readonly stopping = new Set<string>();
  private sub?: Subscription;
  private sweeper?: NodeJS.Timeout;
  private offLedger?: () => void;
  private malformed = 0;
  private malformedLoggedAt = -Infinity;
  private closed = false;
  private readonly now: () => number;
  /** Stops recorded by this process (tests and logs). */
  stopsRecorded = 0;

  constructor(private readonly d: StopperDeps) {
    this.live = new LiveCurves({ idleMs: d.idleMs });
    this.now = d.now ?? Date.now;
  }

  /** True when some stage stops trials mid-slot (otherwise there is nothing to follow). */
  static wanted(config: Config): boolean {
    return config.stages.some((s) => s.early_stop);
  }

  start(): void {
    this.sub = this.d.nc.subscribe(this.d.names.progressAll, {
      callback: (err, msg) => {
        if (!err) this.onProgress(msg);
      },
    });
    this.offLedger = this.d.ledger.onEvent((ev) => {
      if (ev.body.case !== 'trialFinished') return;
      const id = ev.body.value.result?.trialId ?? '';
      this.forget(id);
      this.sentAt.delete(id);
    });
    const every = Math.max(1000, Math.min(60_000, this.d.idleMs / 4));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.offLedger?.();
    try {
      this.sub?.unsubscribe();
    } catch {
      // The connection is already closed.
    }
    // A stop being recorded finishes (its fact is appended or not) before the
    // ledger closes; bounded, since an append may wait on a NATS that is gone.
    const end = this.now() + CLOSE_WAIT_MS;
    while (this.stopping.size && this.now() < end) await new Promise((r) => setTimeout(r, 20));
  }

  /** Trials whose curves are held now. */
  get following(): number {
    return this.live.size;
  }

  private onProgress(msg: Msg): void {
    if (this.closed) return;
    let p;
    try {
      p = decode(TrialProgressSchema, msg.data);
      if (!p.trialId || !p.workerId) throw new Error('no trial_id or worker_id');
    } catch (err) {
      this.malformedMessage(msg.subject, err);
      return;
    }
    const id = p.trialId;
    const now = this.now();
    const state = this.d.ledger.state;
    const stop = state.stops.get(id);
    if (stop) {
      // Progress of a trial already stopped: the request was lost, or this process restarted.
      if (!state.trials.get(id)?.result) this.resend(id, stop.reason, now);
      return;
    }
    if (this.stopping.has(id)) return;
    const j = judgedTrial(state, this.d.config, id, p.workerId, this.d.classOf);
    if (typeof j === 'string') {
      this.forget(id);
      return;
    }
    const points = this.live.add(id, p.workerId, curveOf(p.points), now);
    const looks = looksPassed(j.rule, points);
    if (looks === 0 || !worthStopping(points)) return;
    const baselines = state.baselineTrialsOf(j.tv.trial.parentCommit, j.stage.name, j.gpuClass);
    const on = `${looks}|${baselines.filter((b) => b.result).length}`;
    if (this.judgedOn.get(id) === on) return;
    this.judgedOn.set(id, on);
    const judgement = judgeTrial(state, this.d.config, j, points);
    if (!judgement.stop) return;
    this.stopping.add(id);
    void this.recordStop(j, p.workerId, judgement).finally(() => this.stopping.delete(id));
  }

  /** Appends the stop's fact, then asks the worker to stop the run. */
  private async recordStop(
    j: JudgedTrial,
    workerId: string,
    judgement: Extract<StopJudgement, { stop: true }>,
  ): Promise<void> {
    const id = j.tv.trial.id;
    try {
      const recorded = await this.d.exclusive(async () => {
        const s = this.d.ledger.state;
        // Decided while waiting for the turn: a full result is better evidence than a look.
        if (s.stops.has(id) || s.trials.get(id)?.result) return false;
        if (s.candidates.get(j.tv.trial.candidateId)?.state !== CandidateState.ACTIVE) return false;
        await this.d.ledger.append(
          { case: 'trialStopped', value: stopFact(j, workerId, judgement) },
          dedupeIds.trialStopped(id),
        );
        return true;
      });
      if (!recorded) return;
      this.stopsRecorded++;
      this.forget(id);
      this.d.log(
        `${j.tv.trial.candidateId} at ${j.stage.name}: trial ${id} on ${workerId} (${j.gpuClass}) ${judgement.reason}`,
      );
      await this.request(id, judgement.reason, this.now());
    } catch (err) {
      this.d.log(`cannot record the stop of ${id}: ${ArswarmError.from(err).message}`);
    }
  }

  private resend(id: string, reason: string, now: number): void {
    const last = this.sentAt.get(id);
    if (last !== undefined && now - last < (this.d.resendMs ?? STOP_RESEND_MS)) return;
    void this.request(id, reason, now);
  }

  /** Asks whoever runs the trial to stop it; a missing or late answer is logged, not an error. */
  private async request(id: string, reason: string, now: number): Promise<void> {
    this.sentAt.set(id, now);
    try {
      const m = await this.d.nc.request(
        this.d.names.stopTrial(id),
        encode(StopTrialRequestSchema, { trialId: id, reason }),
        { timeout: this.d.requestTimeoutMs ?? STOP_REQUEST_TIMEOUT_MS },
      );
      const r = decode(StopTrialReplySchema, m.data);
      this.d.log(
        r.stopped
          ? `worker stopped ${id}`
          : `worker did not stop ${id} (${r.reason || 'no reason'}); asked again if its progress keeps coming`,
      );
    } catch (err) {
      this.d.log(`stop request for ${id}: ${requestFailure(err)}; asked again if its progress keeps coming`);
    }
  }

  private forget(id: string): void {
    this.live.forget(id);
    this.judgedOn.delete(id);
  }

  private sweep(): void {
    const now = this.now();
    for (const id of this.live.sweep(now)) this.judgedOn.delete(id);
    for (const [id, at] of this.sentAt) if (now - at > this.d.idleMs) this.sentAt.delete(id);
    // judgedOn keys of trials evicted by the size bound.
    if (this.judgedOn.size > 2 * Math.max(1, this.live.size) + 64)
      for (const id of this.judgedOn.keys()) if (!this.live.points(id).length) this.judgedOn.delete(id);
  }

  private malformedMessage(subject: string, err: unknown): void {
    this.malformed++;
    const now = this.now();
    if (now - this.malformedLoggedAt < MALFORMED_LOG_MS) return;
    this.malformedLoggedAt = now;
    this.d.log(
      `dropping malformed progress message on ${subject}: ${ArswarmError.from(err).message}` +
        (this.malformed > 1 ? ` (${this.malformed} dropped so far)` : ''),
    );
  }
}

/** A failed request in words: nobody runs the trial any more, or nobody answered in time. */
export function requestFailure(err: unknown): string {
  const e = err as { name?: string; message?: string; isNoResponders?: () => boolean; cause?: unknown };
  const cause = e.cause as { name?: string } | undefined;
  if (e.isNoResponders?.() || e.name === 'NoRespondersError' || cause?.name === 'NoRespondersError')
    return 'no worker runs it (no responders)';
  if (e.name === 'TimeoutError' || cause?.name === 'TimeoutError' || /timeout/i.test(e.message ?? ''))
    return 'no answer in time';
  return e.message ?? String(err);
}
