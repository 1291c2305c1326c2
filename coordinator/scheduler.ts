/**
 * The scheduler: on every tick and every result, it judges active candidates,
 * queues the trials the ladder and the baselines need, moves promoted
 * candidates up (rebasing onto the head before the top stage), merges or
 * parks winners, and asks proposers for new ideas ahead of need so no worker
 * waits. Every decision is appended to the ledger before it is acted on again.
 * This file is the tick's orchestration and the public API; the steps live in
 * scheduling/ (record, baselines, advance, merge-step, feed).
 */
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import type { Stage } from '../gen/arswarm/v1/trial_pb.js';
import { ArswarmError, Code } from '../common/errors.js';
import type { CandidateView } from './ledger/state.js';
import { configLevels, type StageLevels } from './gate.js';
import { NoisePool, replicatesByName } from './noise-pool.js';
import { runnablePending } from './waiting.js';
import { isTransportFailure } from './transport-failure.js';
import type { SchedulerDeps, SchedulingContext } from './scheduling/context.js';
import { advance } from './scheduling/advance.js';
import { ensureBaselines } from './scheduling/baselines.js';
import { feed } from './scheduling/feed.js';
import { mayMerge, merge as mergeStep, waitsForPerson } from './scheduling/merge-step.js';

export type { SchedulerDeps } from './scheduling/context.js';
export { MAX_INFRA_ATTEMPTS } from './scheduling/advance.js';
export { MAX_BASELINE_FAILURES } from './scheduling/baselines.js';

export class Scheduler {
  /** Stage levels under the run-wide false-merge bound (gate.ts). */
  private readonly levels: StageLevels;
  /** Noise pooled across heads and candidates per stage and class (noise-pool.ts). */
  private readonly noise: NoisePool;
  /** Candidates whose last step threw: the message and how many ticks in a row. */
  private readonly failing = new Map<string, { message: string; count: number }>();
  /** Candidate steps that threw since start. */
  schedulingFailures = 0;

  /** What the steps in scheduling/ share. */
  private readonly ctx: SchedulingContext;

  constructor(private readonly d: SchedulerDeps) {
    this.levels = configLevels(d.config);
    this.noise = new NoisePool(() => d.ledger.state, replicatesByName(d.factory.stages));
    this.ctx = {
      d,
      get state() {
        return d.ledger.state;
      },
      levels: this.levels,
      noise: this.noise,
      warm: () => d.fleetWarm?.() ?? true,
    };
  }

  private get state() {
    return this.d.ledger.state;
  }

  /** The ladder's stages, in order. */
  get stages(): readonly Stage[] {
    return this.d.factory.stages;
  }

  /** True once the trial budget is spent (max_trials > 0). */
  limitReached(): boolean {
    const max = this.d.config.swarm.max_trials;
    return max > 0 && this.state.finished + this.state.pending.size >= max;
  }

  /** True when a bounded run has nothing left to do. */
  settled(): boolean {
    return this.stopReason() !== undefined;
  }

  /**
   * Why a bounded run (max_trials > 0) is over, or undefined while it is not:
   * its trial budget is spent, or every proposer is exhausted or over budget,
   * and nothing is in flight (no trial a live worker can run, no active
   * candidate, nothing waiting for an automatic merge).
   */
  stopReason(): string | undefined {
    if (this.d.config.swarm.max_trials <= 0) return undefined;
    const why = this.limitReached()
      ? `the trial budget is spent (${this.d.config.swarm.max_trials} trials)`
      : this.d.proposersExhausted?.();
    if (!why) return undefined;
    // Trials only a worker that is gone could run are not in flight (they wait
    // for it); before the fleet view is warm every pending trial counts.
    const pending = this.ctx.warm() ? runnablePending(this.state, this.d.fleet()) : this.state.pending.size;
    if (pending > 0) return undefined;
    for (const v of this.state.candidates.values()) if (v.state === CandidateState.ACTIVE) return undefined;
    if (this.d.config.swarm.merge_policy === 'auto')
      for (const v of this.state.candidates.values())
        if (v.state === CandidateState.REVIEW && !waitsForPerson(this.ctx, v)) return undefined;
    return why;
  }

  /**
   * One pass over everything; safe to call at any time (idempotent). A
   * candidate whose processing throws is logged and retried on the next tick;
   * the others, the baselines and the feed go on (unless the ledger or NATS is
   * down: then the tick ends there, as every other step would fail too).
   */
  async tick(): Promise<void> {
    for (const v of [...this.state.candidates.values()])
      await this.isolated(v.candidate.id, async () => {
        if (v.state === CandidateState.ACTIVE) await advance(this.ctx, v);
        else if (v.state === CandidateState.REVIEW && mayMerge(this.ctx, v)) await this.merge(v);
      });
    // Baselines of the head at every stage, so a promotion after a merge never
    // waits a slot for its reference runs.
    if (!this.limitReached())
      for (let i = 0; i < this.d.factory.stages.length; i++)
        await ensureBaselines(this.ctx, this.state.head, i);
    if (!this.state.paused && !this.limitReached())
      await feed(this.ctx, (v) => this.isolated(v.candidate.id, () => advance(this.ctx, v)));
  }

  /**
   * A person's review decision on a candidate waiting for review. Approving
   * merges it (after top-stage revalidation when the head has moved).
   */
  async decide(candidateId: string, approve: boolean, note: string, reviewer: string): Promise<void> {
    const v = this.state.candidates.get(candidateId);
    if (!v)
      throw new ArswarmError(Code.NotFound, `no candidate "${candidateId}"`, { candidateId, field: 'id' });
    if (v.state !== CandidateState.REVIEW)
      throw new ArswarmError(
        Code.FailedPrecondition,
        `${candidateId} is ${CandidateState[v.state].toLowerCase()}, not waiting for review`,
        {
          candidateId,
          reason: 'not_in_review',
        },
      );
    await this.d.ledger.append({ case: 'reviewDecided', value: { candidateId, approve, note, reviewer } });
    this.d.log(
      `${candidateId} ${approve ? 'approved' : 'rejected'} by ${reviewer}${note ? `: ${note}` : ''}`,
    );
    if (approve && mayMerge(this.ctx, v)) await this.merge(v);
  }

  /** Pauses or resumes proposing new candidates (trials in flight finish). */
  async setPaused(paused: boolean, by: string, reason = ''): Promise<void> {
    if (this.state.paused === paused) return;
    await this.d.ledger.append(
      paused ? { case: 'swarmPaused', value: { by, reason } } : { case: 'swarmResumed', value: { by } },
    );
  }

  /** Judges one candidate (called when one of its results arrives). */
  async onCandidateResult(candidateId: string): Promise<void> {
    const v = this.state.candidates.get(candidateId);
    if (v?.state === CandidateState.ACTIVE) await advance(this.ctx, v);
  }

  /** Merges a candidate that passed the top stage; revalidates first if the head moved. */
  async merge(v: CandidateView): Promise<void> {
    await mergeStep(this.ctx, v);
  }

  /**
   * Runs one candidate's step. A throw is counted, logged once per candidate
   * and message (every tick retries it, so the log would repeat otherwise),
   * shown in status until the candidate gets through, and not passed on.
   */
  private async isolated(candidateId: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
      if (this.failing.delete(candidateId)) this.d.log(`${candidateId}: scheduling works again`);
    } catch (err) {
      // The ledger or NATS down is no one candidate's failure: the tick ends (the coordinator logs it).
      if (this.d.ledger.writesUncertain || isTransportFailure(err)) throw err;
      this.schedulingFailures++;
      const message = ArswarmError.from(err).message;
      const prev = this.failing.get(candidateId);
      this.failing.set(candidateId, { message, count: (prev?.count ?? 0) + 1 });
      if (prev?.message !== message)
        this.d.log(
          `${candidateId}: scheduling failed (retried every tick; other candidates go on): ${message}`,
        );
    }
  }

  /** Candidates whose last step threw, for status warnings. */
  schedulingErrors(): string[] {
    return [...this.failing].map(
      ([id, f]) => `candidate ${id} cannot be scheduled (${f.count} tick(s) so far): ${f.message}`,
    );
  }
}
