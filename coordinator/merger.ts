/**
 * Turns a candidate that passed the top stage into a commit on the shared
 * branch: its title, hypothesis, the evidence per stage, and trailers that
 * make the merge legible and machine-readable.
 */
import { create } from '@bufbuild/protobuf';
import { VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { MergedSchema, type Merged } from '../gen/arswarm/v1/event_pb.js';
import type { Config } from '../common/config.js';
import type { CandidateView } from './ledger/state.js';
import type { TargetRepo } from './repo.js';

/** Trailer naming the candidate a merge commit came from. */
export const CANDIDATE_TRAILER = 'Arswarm-Candidate';

/** The commit message for a merge. */
export function mergeMessage(v: CandidateView, metric: string): string {
  const c = v.candidate;
  const promotes = v.verdicts.filter((x) => x.kind === VerdictKind.PROMOTE);
  const lines = [
    c.title,
    '',
    c.hypothesis,
    '',
    `Evidence (Δ = improvement in ${metric} over the baseline, positive is better; σ = standard error):`,
    ...promotes.map(
      (p) =>
        `  ${p.stage}: Δ ${p.delta.toFixed(6)} ± ${p.sigma.toFixed(6)} (n ${p.n}, ${p.gpuClass}) ${p.baselineMean.toFixed(6)} -> ${p.candidateMean.toFixed(6)}`,
    ),
    '',
    `${CANDIDATE_TRAILER}: ${c.id}`,
    `Arswarm-Proposer: ${c.proposer}`,
    ...promotes.map(
      (p) =>
        `Arswarm-Stage-${p.stage}: delta=${p.delta.toFixed(6)} sigma=${p.sigma.toFixed(6)} n=${p.n} class=${p.gpuClass}`,
    ),
    `Arswarm-Trials: ${promotes.flatMap((p) => p.trialIds).join(',')}`,
  ];
  return lines.join('\n') + '\n';
}

/** Reads the candidate id back from a merge commit message. */
export function candidateOf(message: string): string | undefined {
  return new RegExp(`^${CANDIDATE_TRAILER}: (\\S+)$`, 'm').exec(message)?.[1];
}

export class Merger {
  constructor(
    /** The coordinator's repo (branch-reconcile.ts reads the branch through it). */
    readonly repo: TargetRepo,
    private readonly config: Config,
  ) {}

  /** Carries a diff onto a new parent (3-way); throws Aborted/conflict when it cannot. */
  async rebase(diff: string, newParent: string): Promise<string> {
    return this.repo.rebaseDiff(diff, newParent);
  }

  /** Commits the candidate on top of `head` and moves the branch (compare-and-swap). */
  async merge(v: CandidateView, head: string): Promise<Merged> {
    const message = mergeMessage(v, this.config.target.metric.name);
    const commit = await this.repo.commitPatch(head, v.diff, message);
    await this.repo.advanceBranch(commit, head);
    const top = v.verdicts.filter((x) => x.kind === VerdictKind.PROMOTE).at(-1);
    return create(MergedSchema, {
      candidateId: v.candidate.id,
      commit,
      previousHead: head,
      metricBefore: top?.baselineMean ?? 0,
      metricAfter: top?.candidateMean ?? 0,
      stage: top?.stage ?? '',
    });
  }
}
