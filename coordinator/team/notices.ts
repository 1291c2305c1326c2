/**
 * What the swarm tells a team (a candidate waits for review, a merge, a
 * stall, a spent budget), as one notice type with a stable id, and the two
 * payloads a webhook may ask for: the notice as JSON, or Slack's `{text, blocks}`.
 */
import { VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../../gen/arswarm/v1/event_pb.js';
import type { Config } from '../../common/config.js';
import type { NoticeKind } from '../../common/team-config.js';
import type { LedgerState } from '../ledger/state.js';
import { reviewBranch, waitsForReview } from './review-branches.js';

/** One notice; `id` is the same for the same fact, so receivers and the notifier drop repeats. */
export interface Notice {
  id: string;
  kind: NoticeKind;
  /** Milliseconds since the epoch. */
  atMs: number;
  /** The shared branch. */
  branch: string;
  /** One line for people. */
  text: string;
  candidate?: {
    id: string;
    title: string;
    hypothesis: string;
    proposer: string;
    /** The review branch (review_waiting) or the merge commit (merged). */
    ref: string;
    evidence: {
      stage: string;
      delta: number;
      sigma: number;
      n: number;
      gpuClass: string;
      trialIds: string[];
    }[];
  };
  /** Proposer of a budget_exhausted notice. */
  proposer?: string;
}

/** The notice a ledger event makes, if any (`state` already has the event applied). */
export function noticeOf(ev: Event, state: LedgerState, config: Config): Notice | undefined {
  const b = ev.body;
  const base = { atMs: Number(ev.atMs) || Date.now(), branch: config.swarm.branch };
  if (b.case === 'proposerFailed' && b.value.code === 'budget_exhausted')
    return {
      ...base,
      id: `budget_exhausted.${b.value.proposer}`,
      kind: 'budget_exhausted',
      proposer: b.value.proposer,
      text: b.value.reason,
    };
  const id =
    b.case === 'verdict' ||
    b.case === 'candidateFlagged' ||
    b.case === 'candidateAudited' ||
    b.case === 'merged'
      ? b.value.candidateId
      : undefined;
  const v = id ? state.candidates.get(id) : undefined;
  if (!v) return undefined;
  const c = v.candidate;
  const evidence = v.verdicts
    .filter((x) => x.kind === VerdictKind.PROMOTE)
    .map((p) => ({
      stage: p.stage,
      delta: p.delta,
      sigma: p.sigma,
      n: p.n,
      gpuClass: p.gpuClass,
      trialIds: [...p.trialIds],
    }));
  const candidate = { id: c.id, title: c.title, hypothesis: c.hypothesis, proposer: c.proposer, evidence };
  const top = evidence.at(-1);
  const how = top ? ` (${top.stage}: Δ ${top.delta.toFixed(6)} ± ${top.sigma.toFixed(6)}, n ${top.n})` : '';
  if (b.case === 'merged')
    return {
      ...base,
      id: `merged.${c.id}`,
      kind: 'merged',
      text: `merged ${c.id} "${c.title}" into ${config.swarm.branch} as ${b.value.commit.slice(0, 7)}${how}`,
      candidate: { ...candidate, ref: b.value.commit },
    };
  if (!waitsForReview(v, config.swarm.merge_policy)) return undefined;
  return {
    ...base,
    id: `review_waiting.${c.id}`,
    kind: 'review_waiting',
    text: `${c.id} "${c.title}" waits for review${how}${v.flags.length ? `, flagged: ${v.flags.map((f) => f.rule).join(', ')}` : ''}; arswarm review approve ${c.id}`,
    candidate: { ...candidate, ref: reviewBranch(c.id) },
  };
}

/** The body a webhook receives. */
export function payloadOf(n: Notice, format: 'json' | 'slack'): unknown {
  if (format === 'json') return n;
  const lines = [`*arswarm ${n.kind.replace('_', ' ')}*: ${n.text}`];
  if (n.candidate?.hypothesis) lines.push(`> ${n.candidate.hypothesis}`);
  for (const e of n.candidate?.evidence ?? [])
    lines.push(`• ${e.stage}: Δ ${e.delta.toFixed(6)} ± ${e.sigma.toFixed(6)} (n ${e.n}, ${e.gpuClass})`);
  return {
    text: n.text,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } }],
  };
}
