/**
 * The scheduler: on every tick and every result, it judges active candidates,
 * queues the trials the ladder and the baselines need, moves promoted
 * candidates up (rebasing onto the head before the top stage), merges or
 * parks winners, and asks proposers for new ideas ahead of need so no worker
 * waits. Every decision is appended to the ledger before it is acted on again.
 */
import { CandidateState, VerdictKind, type Verdict } from '../gen/arswarm/v1/candidate_pb.js';
import { TrialStatus, type Stage, type Trial } from '../gen/arswarm/v1/trial_pb.js';
import type { Config } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import type { Ledger } from './ledger/ledger.js';
import type { CandidateView } from './ledger/state.js';
import { judge, stageRuleOf, type StageRule } from './stage-verdict.js';
import { configLevels, type StageLevels } from './gate.js';
import { NoisePool } from './noise-pool.js';
import type { TrialFactory } from './trial-factory.js';
import type { Merger } from './merger.js';
import { recoverMerges } from './branch-reconcile.js';
import type { Intake } from './intake/index.js';
import { audited, type GamingAudit } from './gaming-audit/index.js';
import { ANY_GPU_CLASS, dedupeIds } from '../common/subjects.js';
import { eligibleClasses, type FleetClass } from './fleet.js';
import { nextAttempt, pinStage } from './stage-pin.js';
import { queuedByClass, runnablePending } from './waiting.js';
import { isTransportFailure } from './transport-failure.js';

/**
 * Attempts of one candidate replicate after infra failures before the
 * candidate counts as crashed (workers back off on their own failures, so
 * reaching this means the trial breaks every worker it meets).
 */
export const MAX_INFRA_ATTEMPTS = 10;
/** Failures (not infra) of one baseline replicate before the baseline counts as broken. */
export const MAX_BASELINE_FAILURES = 3;

/** Statuses that end a candidate's stage as crashed. */
const CANDIDATE_FAILURES = new Set([
  TrialStatus.CRASH,
  TrialStatus.NAN,
  TrialStatus.TIMEOUT,
  TrialStatus.OOM,
  TrialStatus.INTEGRITY,
]);

export interface SchedulerDeps {
  config: Config;
  ledger: Ledger;
  factory: TrialFactory;
  merger: Merger;
  intake: Intake;
  /** The top-stage gaming audit; without it candidates merge on their evidence alone (simulations). */
  audit?: GamingAudit;
  /** Publishes a trial to its queue (idempotent by trial id). */
  publish(trial: Trial): Promise<void>;
  /** Live worker classes with their GPU memory and capacity. */
  fleet(): FleetClass[];
  /**
   * The fleet view has watched long enough to have seen every live worker;
   * until then a class missing from it is not re-routed away from.
   * @default always true
   */
  fleetWarm?(): boolean;
  /**
   * Why no proposer will offer anything more at the current head (all
   * exhausted or over budget), or undefined while one may.
   * @default never exhausted
   */
  proposersExhausted?(): string | undefined;
  /** Number of live workers (the config's count until heartbeats arrive). */
  workerCount(): number;
  log(msg: string): void;
}

export class Scheduler {
  /** Stage levels under the run-wide false-merge bound (gate.ts). */
  private readonly levels: StageLevels;
  /** Noise pooled across heads and candidates per stage and class (noise-pool.ts). */
  private readonly noise: NoisePool;
  /** Candidates whose last step threw: the message and how many ticks in a row. */
  private readonly failing = new Map<string, { message: string; count: number }>();
  /** Candidate steps that threw since start. */
  schedulingFailures = 0;

  constructor(private readonly d: SchedulerDeps) {
    this.levels = configLevels(d.config);
    this.noise = new NoisePool(
      () => d.ledger.state,
      (name) => d.factory.stages.find((s) => s.name === name)?.replicates ?? 1,
    );
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
    const pending = this.warm() ? runnablePending(this.state, this.d.fleet()) : this.state.pending.size;
    if (pending > 0) return undefined;
    for (const v of this.state.candidates.values()) if (v.state === CandidateState.ACTIVE) return undefined;
    if (this.d.config.swarm.merge_policy === 'auto')
      for (const v of this.state.candidates.values())
        if (v.state === CandidateState.REVIEW && !this.waitsForPerson(v)) return undefined;
    return why;
  }

  private warm(): boolean {
    return this.d.fleetWarm?.() ?? true;
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
        if (v.state === CandidateState.ACTIVE) await this.advance(v);
        else if (v.state === CandidateState.REVIEW && this.mayMerge(v)) await this.merge(v);
      });
    // Baselines of the head at every stage, so a promotion after a merge never
    // waits a slot for its reference runs.
    if (!this.limitReached())
      for (let i = 0; i < this.d.factory.stages.length; i++) await this.ensureBaselines(this.state.head, i);
    if (!this.state.paused && !this.limitReached()) await this.feed();
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
    if (approve && this.mayMerge(v)) await this.merge(v);
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
    if (v?.state === CandidateState.ACTIVE) await this.advance(v);
  }

  private rule(stageIndex: number): StageRule {
    const s = this.d.config.stages[stageIndex];
    if (!s) throw new Error(`no stage ${stageIndex}`);
    return stageRuleOf(s, this.levels.look[stageIndex]);
  }

  /** Queues missing baseline replicates of `commit` at a stage for every live GPU class that may run it. */
  private async ensureBaselines(commit: string, stageIndex: number): Promise<void> {
    if (!commit) return;
    for (const c of eligibleClasses(this.d.factory.stage(stageIndex), this.d.fleet()))
      await this.ensureBaselinesFor(commit, stageIndex, c.gpuClass);
  }

  private async queue(trial: Trial): Promise<void> {
    if (this.state.trials.has(trial.id)) return;
    await this.d.publish(trial);
    await this.d.ledger.append({ case: 'trialQueued', value: { trial } }, dedupeIds.trialQueued(trial.id));
  }

  /** Queues one replicate of a candidate at a stage against its current parent and diff, on a class's queue. */
  private async queueReplicate(
    v: CandidateView,
    stageIndex: number,
    replicate: number,
    attempt: number,
    gpuClass: string,
  ): Promise<void> {
    const { id: candidateId } = v.candidate;
    await this.queue(
      await this.d.factory.candidateTrial({
        candidateId,
        parent: v.parent,
        diff: v.diff,
        stageIndex,
        replicate,
        attempt,
        gpuClass,
      }),
    );
  }

  private async verdict(
    v: CandidateView,
    kind: VerdictKind,
    fields: Partial<Verdict> & { stage: string; reason: string },
  ) {
    await this.d.ledger.append({
      case: 'verdict',
      value: {
        $typeName: 'arswarm.v1.Verdict',
        candidateId: v.candidate.id,
        kind,
        delta: 0,
        sigma: 0,
        n: 0,
        gpuClass: '',
        trialIds: [],
        candidateMean: 0,
        baselineMean: 0,
        df: 0,
        alpha: 0,
        threshold: 0,
        ...fields,
      },
    });
  }

  /** Moves one active candidate forward at its current stage. */
  private async advance(v: CandidateView): Promise<void> {
    const stageIndex = v.stageIndex;
    const stage = this.d.factory.stage(stageIndex);
    const trials = this.state.trialsOf(v.candidate.id, v.parent, stage.name);
    // Stopped mid-slot (its curve clearly worse than the baseline's): a rejection, not a crash.
    // Only a recorded TrialStopped counts (the coordinator appends it before it
    // asks the worker): a STOPPED result without one has no evidence, so it is
    // retried below like an infra failure instead of deciding anything.
    const stopped = trials.find((t) => this.state.stops.has(t.trial.id));
    if (stopped) {
      const s = this.state.stops.get(stopped.trial.id)!;
      // The look's numbers are in the intermediate metric's units (a training
      // loss, not the target metric), so they stay in the TrialStopped fact: the
      // verdict's Δ, n and means are left empty and nothing (the journal's Δ, a
      // proposer's history, the optimizer) reads a loss as the target metric.
      await this.verdict(v, VerdictKind.REJECT, {
        stage: stage.name,
        reason: s.reason || 'stopped mid-slot',
        trialIds: [stopped.trial.id],
        gpuClass: s.gpuClass || stopped.result?.gpuClass || '',
      });
      return;
    }
    // A failure of the candidate's own making ends it.
    const failed = trials.find((t) => t.result && CANDIDATE_FAILURES.has(t.result.status));
    if (failed) {
      const r = failed.result!;
      await this.verdict(v, VerdictKind.CRASHED, {
        stage: stage.name,
        reason: `${TrialStatus[r.status].toLowerCase()}: ${r.reason || 'no reason given'}`,
        trialIds: [r.trialId],
        gpuClass: r.gpuClass,
      });
      return;
    }
    // Every replicate of a candidate at a stage runs on one GPU class and is
    // judged against that class's baseline (stage-pin.ts).
    const pin = pinStage({
      stage,
      trials,
      fleet: this.d.fleet(),
      queued: queuedByClass(this.state),
      warm: this.warm(),
      baselineReady: (c) =>
        this.state.baseline(v.parent, stage.name, c).length >= this.d.config.swarm.baseline_replicates,
      replicates: stage.replicates,
    });
    // No live worker may run the stage: the candidate waits (status shows it) and other work goes on.
    if (pin.kind === 'waiting') return;
    const queueClass = pin.kind === 'pinned' ? pin.gpuClass : ANY_GPU_CLASS;
    if (pin.kind === 'pinned' && pin.reroutedFrom)
      this.d.log(
        `${v.candidate.id} at ${stage.name}: no live ${pin.reroutedFrom} worker, re-routed to ${pin.gpuClass}`,
      );
    // Replicates: the stage's count, plus any extra the judge asked for.
    const replicates = new Map<number, { attempt: number; done: boolean; ok: boolean }>();
    for (const t of pin.trials) {
      const cur = replicates.get(t.trial.replicate);
      if (!cur || t.trial.attempt > cur.attempt)
        replicates.set(t.trial.replicate, {
          attempt: t.trial.attempt,
          done: !!t.result,
          ok: t.result?.status === TrialStatus.OK,
        });
    }
    for (const [r, info] of replicates) {
      if (info.done && !info.ok) {
        // Infra: retry elsewhere, a bounded number of times.
        if (info.attempt >= MAX_INFRA_ATTEMPTS) {
          await this.verdict(v, VerdictKind.CRASHED, {
            stage: stage.name,
            reason: `infra failures on ${MAX_INFRA_ATTEMPTS} attempts of replicate ${r + 1}`,
          });
          return;
        }
        await this.queueReplicate(v, stageIndex, r, nextAttempt(trials, r), queueClass);
      }
    }
    for (let r = 0; r < stage.replicates; r++)
      if (!replicates.has(r)) await this.queueReplicate(v, stageIndex, r, nextAttempt(trials, r), queueClass);
    const pending = [...replicates.values()].some((i) => !i.done) || replicates.size < stage.replicates;
    // Judge on the pinned class; trials queued before any worker was seen, within the class that ran most.
    let gpuClass = pin.kind === 'pinned' ? pin.gpuClass : undefined;
    if (!gpuClass) {
      const classes = new Map<string, number>();
      for (const t of pin.trials)
        if (t.result?.status === TrialStatus.OK)
          classes.set(t.result.gpuClass, (classes.get(t.result.gpuClass) ?? 0) + 1);
      gpuClass = [...classes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    }
    if (!gpuClass) return;
    const samples = this.state.candidateSamples(v.candidate.id, v.parent, stage.name, gpuClass);
    const base = this.state.baseline(v.parent, stage.name, gpuClass);
    // As many baseline runs as the candidate has replicates, so every extra
    // replicate has a paired baseline run with its seed.
    const wantBase = Math.max(this.d.config.swarm.baseline_replicates, replicates.size);
    if (base.length < wantBase) {
      const broken = await this.ensureBaselinesFor(v.parent, stageIndex, gpuClass, wantBase);
      if (broken) {
        await this.verdict(v, VerdictKind.CRASHED, { stage: stage.name, reason: broken, gpuClass });
        return;
      }
    }
    if (pending && samples.length < stage.replicates) return;
    const j = judge(
      this.rule(stageIndex),
      samples,
      base,
      this.d.config.swarm.baseline_replicates,
      this.d.config.target.metric.direction === 'minimize',
      this.noise.prior(stage.name, gpuClass, v.parent),
    );
    if (j.kind === 'wait') return;
    if (j.kind === 'more' && pending) return;
    const evidence = {
      stage: stage.name,
      reason: j.reason,
      delta: j.imp.delta,
      sigma: j.imp.sigma,
      n: j.imp.n,
      gpuClass,
      trialIds: samples.map((s) => s.trialId),
      candidateMean: j.imp.candidateMean,
      baselineMean: j.imp.baselineMean,
      // The test itself, so an audit can redo the arithmetic (audit-verdicts.ts).
      df: j.imp.df,
      alpha: j.imp.alpha,
      threshold: j.imp.threshold,
    };
    if (j.kind === 'more') {
      await this.verdict(v, VerdictKind.INCONCLUSIVE, evidence);
      await this.queueReplicate(
        v,
        stageIndex,
        replicates.size,
        nextAttempt(trials, replicates.size),
        queueClass,
      );
      return;
    }
    if (j.kind === 'reject') {
      await this.verdict(v, VerdictKind.REJECT, evidence);
      return;
    }
    await this.verdict(v, VerdictKind.PROMOTE, evidence);
    this.d.log(`${v.candidate.id} promoted at ${stage.name}: ${j.reason}`);
    const next = stageIndex + 1;
    if (next < this.d.factory.stages.length) {
      // The top stage's evidence must be against the current head.
      if (next === this.d.factory.stages.length - 1 && v.parent !== this.state.head) await this.rebase(v);
    } else if (this.mayMerge(v)) await this.merge(v);
  }

  /**
   * Queues missing baseline replicates of `commit` at a stage for a GPU class.
   * Infra failures are retried without a cap (they are never the code's fault,
   * and workers back off on their own failures); other failures up to
   * MAX_BASELINE_FAILURES. Returns the reason when the baseline itself fails, so
   * candidates waiting on it are not left hanging.
   */
  private async ensureBaselinesFor(
    commit: string,
    stageIndex: number,
    gpuClass: string,
    want = this.d.config.swarm.baseline_replicates,
  ): Promise<string | undefined> {
    const stage = this.d.factory.stage(stageIndex);
    const trials = this.state.baselineTrialsOf(commit, stage.name, gpuClass);
    for (let r = 0; r < want; r++) {
      const mine = trials.filter((t) => t.trial.replicate === r);
      const last = mine.reduce((m, t) => Math.max(m, t.trial.attempt), 0);
      const result = mine.find((t) => t.trial.attempt === last)?.result;
      if (result && result.status !== TrialStatus.OK && result.status !== TrialStatus.INFRA) {
        const failures = mine.filter(
          (t) => t.result && t.result.status !== TrialStatus.OK && t.result.status !== TrialStatus.INFRA,
        );
        if (failures.length >= MAX_BASELINE_FAILURES)
          return `the baseline ${commit.slice(0, 7)} itself fails at ${stage.name} on ${gpuClass}: ${TrialStatus[result.status].toLowerCase()}: ${result.reason}`;
      }
      if (mine.length === 0 || (result && result.status !== TrialStatus.OK))
        await this.queue(
          await this.d.factory.baselineTrial({
            parent: commit,
            stageIndex,
            gpuClass,
            replicate: r,
            attempt: last + 1,
          }),
        );
    }
    return undefined;
  }

  /** Carries a candidate onto the head for (re)validation at the top stage, or rejects it on conflict. */
  private async rebase(v: CandidateView): Promise<void> {
    const head = this.state.head;
    try {
      const diff = await this.d.merger.rebase(v.diff, head);
      await this.d.ledger.append({
        case: 'candidateRebased',
        value: { candidateId: v.candidate.id, parentCommit: head, diff },
      });
      this.d.log(`${v.candidate.id} rebased onto ${head.slice(0, 7)} for top-stage validation`);
    } catch (err) {
      const e = ArswarmError.from(err);
      await this.verdict(v, VerdictKind.REJECT, {
        stage: this.d.factory.stage(v.stageIndex).name,
        reason: `cannot rebase onto head: ${e.message}`,
      });
    }
  }

  /**
   * Whether a candidate in review merges now: once the audit of its current
   * diff is recorded, with a person's approval, or under `auto` when no audit
   * flagged it. Starts the audit when none covers its current diff.
   */
  private mayMerge(v: CandidateView): boolean {
    const a = this.d.audit;
    if (a && !audited(v)) {
      a.request(v);
      return false;
    }
    return v.approved || (this.d.config.swarm.merge_policy === 'auto' && v.flags.length === 0);
  }

  /** A flagged candidate waits for a person, not for the swarm: a bounded run may end meanwhile. */
  private waitsForPerson(v: CandidateView): boolean {
    return !!this.d.audit && audited(v) && v.flags.length > 0 && !v.approved;
  }

  /** Merges a candidate that passed the top stage; revalidates first if the head moved. */
  async merge(v: CandidateView): Promise<void> {
    // A merge commit whose ledger event failed (NATS restarting) leaves the
    // branch ahead of the ledger: record it first, or every later merge's
    // compare-and-swap fails against the stale head and the swarm stalls.
    // (Catching up may also apply this very merge, stored though its append failed.)
    const recovered = await recoverMerges(this.d.ledger, this.d.merger.repo);
    if (recovered.length)
      this.d.log(
        `recorded merge(s) of ${recovered.join(', ')} found on the shared branch after a failed ledger write`,
      );
    if (v.state !== CandidateState.REVIEW) return;
    if (v.parent !== this.state.head) {
      await this.rebase(v);
      return;
    }
    const merged = await this.d.merger.merge(v, this.state.head);
    await this.d.ledger.append({ case: 'merged', value: merged }, dedupeIds.merged(v.candidate.id));
    this.d.log(
      `merged ${v.candidate.id} "${v.candidate.title}" as ${merged.commit.slice(0, 7)} (${merged.metricBefore.toFixed(6)} -> ${merged.metricAfter.toFixed(6)})`,
    );
  }

  /**
   * Keeps the lowest stage fed: asks for proposals until enough trials are
   * queued. Only work some live worker can run counts: trials waiting for a
   * worker that is not there must not stop the others from getting work.
   */
  private async feed(): Promise<void> {
    if (!this.state.head) return;
    const want = this.d.workerCount() * this.d.config.swarm.prefetch;
    const fleet = this.d.fleet();
    // A first stage no live worker can run would only pile up candidates that
    // wait; the stage warning (status, log) says why nothing is proposed.
    if (fleet.length > 0 && eligibleClasses(this.d.factory.stage(0), fleet).length === 0) return;
    // With no worker seen yet every queued trial counts (they go to `any` and wait for the first).
    const inFlight = () => (fleet.length > 0 ? runnablePending(this.state, fleet) : this.state.pending.size);
    let guard = 0;
    while (inFlight() < want && guard++ < want) {
      const accepted = await this.d.intake.proposeOne();
      if (!accepted) break;
      const v = this.state.candidates.get(accepted);
      if (v) await this.isolated(v.candidate.id, () => this.advance(v));
    }
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
