/**
 * The coordinator's views, rebuilt from ledger events. `apply()` is the only
 * writer; everything else reads. Applying the same event twice is harmless
 * (facts are keyed by candidate id and trial id).
 */
import {
  CandidateState,
  VerdictKind,
  type Candidate,
  type CandidateAudited,
  type CandidateFlagged,
  type Verdict,
} from '../../gen/arswarm/v1/candidate_pb.js';
import type { Event, Merged, TrialStopped } from '../../gen/arswarm/v1/event_pb.js';
import {
  TrialKind,
  TrialStatus,
  type Trial,
  type TrialResult,
  type TrialStarted,
} from '../../gen/arswarm/v1/trial_pb.js';
import { SharedParts } from './shared-parts.js';

export interface CandidateView {
  candidate: Candidate;
  state: CandidateState;
  /** Index of the stage it is being tested at (or last reached). */
  stageIndex: number;
  /** Current parent and diff (they change on rebase). */
  parent: string;
  diff: string;
  verdicts: Verdict[];
  mergedCommit: string;
  refusedReason: string;
  /** A reviewer approved it: merge once its top-stage evidence is against the head. */
  approved: boolean;
  /** Suspected gaming found by top-stage audits; any flag means only a person's approval merges it. */
  flags: CandidateFlagged[];
  /** The latest finished top-stage audit (its parent tells whether it covers the current diff). */
  audit?: CandidateAudited;
}

export interface TrialView {
  trial: Trial;
  started?: TrialStarted;
  /** Without its log tail, which stays in the ledger (Ledger.result reads it). */
  result?: TrialResult;
  /** Sequence of the TrialFinished event. */
  resultSeq?: bigint;
}

/** A stage's trials by where they are, kept as the facts arrive. */
export interface StageCounts {
  queued: number;
  running: number;
  finished: number;
  /** Lowest and highest metric of its OK results (NaN before the first). */
  okMin: number;
  okMax: number;
}

/** One OK measurement: its seed and sign-free metric. */
export interface Sample {
  seed: number;
  metric: number;
  trialId: string;
}

export class LedgerState {
  branch = '';
  head = '';
  /** Heads in order, oldest first. */
  heads: string[] = [];
  readonly candidates = new Map<string, CandidateView>();
  readonly trials = new Map<string, TrialView>();
  /** Trials of each candidate (index for trialsOf). Read and restored by snapshot.ts. */
  readonly byCandidate = new Map<string, TrialView[]>();
  /** Baseline trials per `commit|stage|class` (queued, any status). Read and restored by snapshot.ts. */
  readonly baselineTrials = new Map<string, TrialView[]>();
  readonly merges: Merged[] = [];
  /** OK samples per `sampleKey`, in the order the results arrived. Read and restored by snapshot.ts. */
  readonly samples = new Map<string, Sample[]>();
  /** Trial ids queued and not finished. */
  readonly pending = new Set<string>();
  /**
   * Reruns (`arswarm rerun`) by id, kept apart from `trials`: nothing the
   * ladder, the counts, status or exports read ever sees them.
   */
  readonly reruns = new Map<string, TrialView>();
  /** Mid-slot stops by trial id (coordinator/early-stop/). Read and restored by snapshot.ts. */
  readonly stops = new Map<string, TrialStopped>();
  lastSeq = 0n;
  /** No new candidates start while paused. */
  paused = false;
  events = 0;
  finished = 0;
  proposerFailures = 0;
  costUsd = 0;
  /** Tokens and dollars the LLM auditor spent (its budget). */
  auditTokens = 0;
  auditCostUsd = 0;
  /** Normalised-diff keys of every candidate accepted so far. */
  readonly diffKeys = new Map<string, string>();
  /** Stage names in ladder order. */
  readonly stageNames: readonly string[];
  /** Trials per stage name (status pages read these instead of walking every trial). */
  readonly stageCounts = new Map<string, StageCounts>();
  /** One instance of each distinct Stage and TargetSpec the trials carry (snapshot.ts shares through it). */
  readonly parts = new SharedParts();

  constructor(stageNames: readonly string[]) {
    this.stageNames = stageNames;
  }

  apply(ev: Event): void {
    this.events++;
    if (ev.seq > this.lastSeq) this.lastSeq = ev.seq;
    const b = ev.body;
    switch (b.case) {
      case 'swarmStarted':
        this.branch = b.value.branch;
        if (!this.head) this.setHead(b.value.head);
        break;
      case 'candidateProposed': {
        const c = b.value.candidate!;
        if (this.candidates.has(c.id)) break;
        this.candidates.set(c.id, {
          candidate: c,
          state: CandidateState.ACTIVE,
          stageIndex: 0,
          parent: c.parentCommit,
          diff: c.diff,
          verdicts: [],
          mergedCommit: '',
          refusedReason: '',
          approved: false,
          flags: [],
        });
        this.diffKeys.set(diffKey(c.parentCommit, c.diff), c.id);
        this.costUsd += c.usage?.costUsd ?? 0;
        break;
      }
      case 'candidateRefused': {
        const c = b.value.candidate!;
        if (this.candidates.has(c.id)) break;
        this.candidates.set(c.id, {
          candidate: c,
          state: CandidateState.REFUSED,
          stageIndex: 0,
          parent: c.parentCommit,
          diff: c.diff,
          verdicts: [],
          mergedCommit: '',
          refusedReason: b.value.reason,
          approved: false,
          flags: [],
        });
        this.costUsd += c.usage?.costUsd ?? 0;
        break;
      }
      case 'candidateRebased': {
        const v = this.candidates.get(b.value.candidateId);
        if (v) {
          v.parent = b.value.parentCommit;
          v.diff = b.value.diff;
          v.state = CandidateState.ACTIVE;
          v.stageIndex = this.stageNames.length - 1;
        }
        break;
      }
      case 'trialQueued': {
        const t = b.value.trial!;
        if (t.kind === TrialKind.RERUN) {
          if (!this.reruns.has(t.id)) this.reruns.set(t.id, { trial: t });
          break;
        }
        if (this.trials.has(t.id)) break;
        this.index({ trial: t });
        this.pending.add(t.id);
        break;
      }
      case 'trialStarted': {
        const rv = this.reruns.get(b.value.trialId);
        if (rv) {
          rv.started ??= b.value;
          break;
        }
        const tv = this.trials.get(b.value.trialId);
        if (tv && !tv.result) {
          if (!tv.started) {
            const c = this.countsOf(tv.trial);
            c.queued--;
            c.running++;
          }
          tv.started = b.value;
        }
        break;
      }
      case 'trialFinished': {
        const r = b.value.result!;
        const rv =
          this.reruns.get(r.trialId) ?? (r.trial?.kind === TrialKind.RERUN ? { trial: r.trial } : undefined);
        if (rv) {
          if (!rv.result) {
            rv.result = { ...r, trial: rv.trial };
            rv.resultSeq = ev.seq;
            this.reruns.set(r.trialId, rv);
          }
          break;
        }
        let tv = this.trials.get(r.trialId);
        if (!tv && r.trial) {
          // A result for a trial whose TrialQueued never made it to the ledger
          // (crash between publish and append): adopt it from the result.
          tv = { trial: r.trial };
          this.index(tv);
        }
        if (!tv || tv.result) break;
        // One Trial object per trial (the result's copy, if any, is not kept), and no
        // log tail in memory (up to 8 KiB a trial): it is read from the ledger when asked for.
        tv.result = { ...r, trial: tv.trial, logTail: ev.seq > 0n ? '' : r.logTail };
        tv.resultSeq = ev.seq;
        this.pending.delete(r.trialId);
        this.finished++;
        const c = this.countsOf(tv.trial);
        if (tv.started) c.running--;
        else c.queued--;
        c.finished++;
        if (r.status === TrialStatus.OK) {
          if (Number.isNaN(c.okMin) || r.metric < c.okMin) c.okMin = r.metric;
          if (Number.isNaN(c.okMax) || r.metric > c.okMax) c.okMax = r.metric;
          const key = sampleKeyOf(tv.trial, r.gpuClass);
          const list = this.samples.get(key) ?? [];
          list.push({ seed: tv.trial.seed, metric: r.metric, trialId: r.trialId });
          this.samples.set(key, list);
        }
        break;
      }
      case 'verdict': {
        const v = this.candidates.get(b.value.candidateId);
        if (!v) break;
        v.verdicts.push(b.value);
        const k = b.value.kind;
        if (k === VerdictKind.REJECT) v.state = CandidateState.REJECTED;
        else if (k === VerdictKind.CRASHED) v.state = CandidateState.CRASHED;
        else if (k === VerdictKind.PROMOTE) {
          const i = this.stageNames.indexOf(b.value.stage);
          if (i >= this.stageNames.length - 1) v.state = CandidateState.REVIEW;
          else v.stageIndex = i + 1;
        }
        break;
      }
      case 'merged': {
        const v = this.candidates.get(b.value.candidateId);
        if (v) {
          v.state = CandidateState.MERGED;
          v.mergedCommit = b.value.commit;
        }
        this.merges.push(b.value);
        this.setHead(b.value.commit);
        break;
      }
      case 'proposerFailed':
        this.proposerFailures++;
        // A failed attempt still cost tokens.
        this.costUsd += b.value.usage?.costUsd ?? 0;
        break;
      case 'reviewDecided': {
        const v = this.candidates.get(b.value.candidateId);
        if (!v) break;
        if (b.value.approve) v.approved = true;
        else v.state = CandidateState.REJECTED;
        break;
      }
      case 'swarmPaused':
        this.paused = true;
        break;
      case 'swarmResumed':
        this.paused = false;
        break;
      case 'workersScaled':
        break;
      case 'candidateFlagged': {
        const v = this.candidates.get(b.value.candidateId);
        if (!v) break;
        v.flags.push(b.value);
        // An approval given before the flag was seen does not cover it.
        v.approved = false;
        break;
      }
      case 'candidateAudited': {
        const v = this.candidates.get(b.value.candidateId);
        if (v) v.audit = b.value;
        const u = b.value.usage;
        this.costUsd += u?.costUsd ?? 0;
        this.auditCostUsd += u?.costUsd ?? 0;
        this.auditTokens += Number((u?.inputTokens ?? 0n) + (u?.outputTokens ?? 0n));
        break;
      }
      case 'trialStopped':
        if (!this.stops.has(b.value.trialId)) this.stops.set(b.value.trialId, b.value);
        break;
      case 'baselineMeasured':
      case undefined:
        break;
    }
  }

  private index(tv: TrialView): void {
    const t = tv.trial;
    this.parts.share(t);
    this.trials.set(t.id, tv);
    this.countsOf(t).queued++;
    if (t.kind === TrialKind.BASELINE) {
      const key = `${t.parentCommit}|${t.stage?.name ?? ''}|${t.gpuClass}`;
      this.baselineTrials.set(key, [...(this.baselineTrials.get(key) ?? []), tv]);
    } else {
      // A candidate's trials carry its diff (or its rebased one): keep one copy of the text.
      const v = this.candidates.get(t.candidateId);
      if (v && t.diff === v.diff) t.diff = v.diff;
      else if (v && t.diff === v.candidate.diff) t.diff = v.candidate.diff;
      const list = this.byCandidate.get(t.candidateId) ?? [];
      list.push(tv);
      this.byCandidate.set(t.candidateId, list);
    }
  }

  private countsOf(t: Trial): StageCounts {
    const stage = t.stage?.name ?? '';
    let c = this.stageCounts.get(stage);
    if (!c) {
      c = { queued: 0, running: 0, finished: 0, okMin: NaN, okMax: NaN };
      this.stageCounts.set(stage, c);
    }
    return c;
  }

  /** Baseline trials queued for a commit at a stage for a GPU class. */
  baselineTrialsOf(commit: string, stage: string, gpuClass: string): TrialView[] {
    return this.baselineTrials.get(`${commit}|${stage}|${gpuClass}`) ?? [];
  }

  /** Every trial of a candidate. */
  candidateTrials(id: string): TrialView[] {
    return this.byCandidate.get(id) ?? [];
  }

  private setHead(commit: string): void {
    this.head = commit;
    this.heads.push(commit);
  }

  /** OK baseline samples of a commit at a stage on a GPU class. */
  baseline(commit: string, stage: string, gpuClass: string): Sample[] {
    return this.samples.get(`b|${commit}|${stage}|${gpuClass}`) ?? [];
  }

  /** OK samples of a candidate at a stage against a parent on a GPU class. */
  candidateSamples(id: string, parent: string, stage: string, gpuClass: string): Sample[] {
    return this.samples.get(`c|${id}|${parent}|${stage}|${gpuClass}`) ?? [];
  }

  /** Trials (any status) of a candidate at a stage against a parent. */
  trialsOf(id: string, parent: string, stage: string): TrialView[] {
    return this.candidateTrials(id).filter(
      (tv) => tv.trial.parentCommit === parent && tv.trial.stage?.name === stage,
    );
  }
}

function sampleKeyOf(t: Trial, gpuClass: string): string {
  const stage = t.stage?.name ?? '';
  return t.kind === TrialKind.BASELINE
    ? `b|${t.parentCommit}|${stage}|${gpuClass}`
    : `c|${t.candidateId}|${t.parentCommit}|${stage}|${gpuClass}`;
}

/** A key that is equal for the same change to the same parent, whatever the diff's cosmetics. */
export function diffKey(parent: string, diff: string): string {
  const body = diff
    .split('\n')
    .filter((l) => (l.startsWith('+') || l.startsWith('-')) && !l.startsWith('+++') && !l.startsWith('---'))
    .map((l) => l[0] + l.slice(1).replace(/\s+/g, ' ').trim())
    .join('\n');
  return `${parent}\n${body}`;
}
