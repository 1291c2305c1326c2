/**
 * Audits a ledger and its shared branch for the invariants arswarm promises:
 * no trial lost (every queued trial finished or still pending by design), no
 * result counted twice, no wrong merge (every merge passed every stage and,
 * under `review`, was approved; at most one merge per candidate), and a
 * linear shared branch whose every commit after the start is a recorded merge.
 */
import { VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
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
  problems: string[];
}

export interface AuditOptions {
  stageNames: readonly string[];
  mergePolicy: 'review' | 'auto';
  /** Count queued-but-unfinished trials as pending, not lost (a live swarm). */
  allowPending?: boolean;
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
  const mergeCommits: { candidateId: string; commit: string; previous: string }[] = [];
  let start = '';
  for (const ev of events) {
    const b = ev.body;
    if (b.case === 'swarmStarted' && !start) start = b.value.head;
    else if (b.case === 'trialQueued') queued.add(b.value.trial!.id);
    else if (b.case === 'trialFinished')
      finished.set(b.value.result!.trialId, (finished.get(b.value.result!.trialId) ?? 0) + 1);
    else if (b.case === 'verdict' && b.value.kind === VerdictKind.PROMOTE) {
      const s = promoted.get(b.value.candidateId) ?? new Set<string>();
      s.add(b.value.stage);
      promoted.set(b.value.candidateId, s);
    } else if (b.case === 'candidateRebased') {
      // Top-stage evidence must be gathered again against the new parent.
      promoted.get(b.value.candidateId)?.delete(o.stageNames.at(-1)!);
    } else if (b.case === 'reviewDecided' && b.value.approve) approved.add(b.value.candidateId);
    else if (b.case === 'merged') {
      const id = b.value.candidateId;
      merges.set(id, (merges.get(id) ?? 0) + 1);
      mergeCommits.push({ candidateId: id, commit: b.value.commit, previous: b.value.previousHead });
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
  let branchConsistent = true;
  if (start) {
    const commits = await repo.commitsSince(start);
    if (commits.length !== mergeCommits.length) branchConsistent = false;
    commits.forEach((c, i) => {
      const m = mergeCommits[i];
      if (!m || m.commit !== c.commit || m.previous !== c.parent || candidateOf(c.message) !== m.candidateId)
        branchConsistent = false;
    });
    if (!branchConsistent)
      problems.push(
        `shared branch has ${commits.length} commits after the start, ledger records ${mergeCommits.length} merges (or they differ)`,
      );
    const merges = await repo.raw(['rev-list', '--merges', `${start}..refs/heads/${repo.branch}`]);
    if (merges.trim()) {
      branchConsistent = false;
      problems.push('shared branch history is not linear');
    }
  }
  return { trials: queued.size, lost, doubleCounted, wrongMerges, branchConsistent, problems };
}
