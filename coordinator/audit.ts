/**
 * Audits a ledger and its shared branch for the invariants arswarm promises:
 * no trial lost (every queued trial finished or still pending by design), no
 * result counted twice, no wrong merge (every merge passed every stage, its
 * top-stage evidence ran against the head it was merged onto, under
 * `review` it was approved, at most one merge per candidate, and with the
 * config every judged verdict is redone from the recorded results), and a
 * linear shared branch whose every commit after the start is a recorded merge.
 */
import { VerdictKind, type Verdict } from '../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import type { Config } from '../common/config.js';
import { auditVerdicts } from './audit-verdicts.js';
import { candidateOf } from './merger.js';
import type { TargetRepo } from './repo.js';

export interface AuditReport {
  trials: number;
  /** Queued trials with no result (and `allowPending` false). */
  lost: number;
  /** Trial ids with more than one TrialFinished event. */
  doubleCounted: number;
  wrongMerges: number;
  branchConsistent: boolean;
  /** Judged verdicts redone from the recorded results (0 without `config`). */
  verdictsChecked: number;
  problems: string[];
}

export interface AuditOptions {
  stageNames: readonly string[];
  mergePolicy: 'review' | 'auto';
  /** Count queued-but-unfinished trials as pending, not lost (a live swarm). */
  allowPending?: boolean;
  /** The swarm's config: with it every judged verdict is redone (audit-verdicts.ts). @default none */
  config?: Config;
}

export interface BranchAgreementOptions {
  /**
   * The ledger was read after the branch and may record merges made since
   * (a live coordinator); the branch's commits must then be a prefix of them.
   * @default false
   */
  ledgerMayLead?: boolean;
}

/**
 * Whether the shared branch and the ledger's merges agree: linear from the
 * swarm's start, each commit one recorded merge, in order. Read the branch
 * before the events when the coordinator is live (`ledgerMayLead`).
 */
export async function branchAgreement(
  events: readonly Event[],
  repo: TargetRepo,
  o: BranchAgreementOptions = {},
  commitsRead?: { commit: string; parent: string; message: string }[],
): Promise<string[]> {
  let start = '';
  const merges: { candidateId: string; commit: string; previous: string }[] = [];
  for (const ev of events) {
    const b = ev.body;
    if (b.case === 'swarmStarted' && !start) start = b.value.head;
    else if (b.case === 'merged')
      merges.push({
        candidateId: b.value.candidateId,
        commit: b.value.commit,
        previous: b.value.previousHead,
      });
  }
  if (!start) return [];
  const problems: string[] = [];
  const commits = commitsRead ?? (await repo.commitsSince(start));
  const lengthOk = o.ledgerMayLead ? commits.length <= merges.length : commits.length === merges.length;
  const mismatch = commits.findIndex((c, i) => {
    const m = merges[i];
    return !m || m.commit !== c.commit || m.previous !== c.parent || candidateOf(c.message) !== m.candidateId;
  });
  if (!lengthOk || mismatch >= 0)
    problems.push(
      `shared branch has ${commits.length} commits after the start, ledger records ${merges.length} merges` +
        (mismatch >= 0 ? ` (they differ at ${mismatch + 1}: ${commits[mismatch]!.commit.slice(0, 7)})` : ''),
    );
  const nonLinear = await repo.raw(['rev-list', '--merges', `${start}..refs/heads/${repo.branch}`]);
  if (nonLinear.trim()) problems.push('shared branch history is not linear');
  return problems;
}

export async function audit(
  events: readonly Event[],
  repo: TargetRepo,
  o: AuditOptions,
): Promise<AuditReport> {
  const problems: string[] = [];
  const queued = new Set<string>();
  const finished = new Map<string, number>();
  const promoted = new Map<string, Set<string>>();
  const approved = new Set<string>();
  const merges = new Map<string, number>();
  /** Parent commit of every queued trial, and of trials adopted from a result. */
  const parentOf = new Map<string, string>();
  /** The last top-stage promotion of each candidate (its evidence). */
  const topPromote = new Map<string, Verdict>();
  const top = o.stageNames.at(-1)!;
  for (const ev of events) {
    const b = ev.body;
    if (b.case === 'trialQueued') {
      queued.add(b.value.trial!.id);
      parentOf.set(b.value.trial!.id, b.value.trial!.parentCommit);
    } else if (b.case === 'trialFinished') {
      const r = b.value.result!;
      if (r.trial && !parentOf.has(r.trialId)) parentOf.set(r.trialId, r.trial.parentCommit);
      finished.set(r.trialId, (finished.get(r.trialId) ?? 0) + 1);
    } else if (b.case === 'verdict' && b.value.kind === VerdictKind.PROMOTE) {
      const s = promoted.get(b.value.candidateId) ?? new Set<string>();
      s.add(b.value.stage);
      promoted.set(b.value.candidateId, s);
      if (b.value.stage === top) topPromote.set(b.value.candidateId, b.value);
    } else if (b.case === 'candidateRebased') {
      // Top-stage evidence must be gathered again against the new parent.
      promoted.get(b.value.candidateId)?.delete(top);
      topPromote.delete(b.value.candidateId);
    } else if (b.case === 'reviewDecided' && b.value.approve) approved.add(b.value.candidateId);
    else if (b.case === 'merged') {
      const id = b.value.candidateId;
      merges.set(id, (merges.get(id) ?? 0) + 1);
      // The top stage's evidence ran against the head this merge went onto.
      const evidence = topPromote.get(id);
      const stale = (evidence?.trialIds ?? []).filter((t) => parentOf.get(t) !== b.value.previousHead);
      if (evidence && (stale.length || !evidence.trialIds.length))
        problems.push(
          `merge of ${id} onto ${b.value.previousHead.slice(0, 7)}: top-stage evidence ${stale.length ? `ran against another head (${stale.join(', ')})` : 'names no trial'}`,
        );
      const passed = promoted.get(id) ?? new Set();
      const missing = o.stageNames.filter((s) => !passed.has(s));
      if (missing.length) problems.push(`merge of ${id} skipped stage(s) ${missing.join(', ')}`);
      if (o.mergePolicy === 'review' && !approved.has(id))
        problems.push(`merge of ${id} without an approval`);
    }
  }
  let lost = 0;
  for (const id of queued) if (!finished.has(id) && !o.allowPending) lost++;
  if (lost) problems.push(`${lost} queued trial(s) never finished`);
  let doubleCounted = 0;
  for (const [id, n] of finished)
    if (n > 1) {
      doubleCounted++;
      problems.push(`trial ${id} finished ${n} times`);
    }
  let wrongMerges = problems.filter((p) => p.startsWith('merge of')).length;
  for (const [id, n] of merges)
    if (n > 1) {
      wrongMerges++;
      problems.push(`candidate ${id} merged ${n} times`);
    }
  // The branch: linear from the start, each commit one recorded merge, in order.
  const branchProblems = await branchAgreement(events, repo);
  problems.push(...branchProblems);
  let verdictsChecked = 0;
  if (o.config) {
    const v = auditVerdicts(events, o.config);
    verdictsChecked = v.checked;
    problems.push(...v.problems);
    // A merge that rests on a verdict its results do not give is a wrong merge.
    for (const id of v.wrongCandidates) if (merges.has(id)) wrongMerges++;
  }
  return {
    trials: queued.size,
    lost,
    doubleCounted,
    wrongMerges,
    branchConsistent: branchProblems.length === 0,
    verdictsChecked,
    problems,
  };
}
