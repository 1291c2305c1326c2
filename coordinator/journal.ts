/**
 * The research journal: what the swarm has learned so far, as proposers (and
 * people) read it — ideas kept, rejected with their Δ, crashed with the
 * reason, in flight, near misses, and the best-so-far curve. Derived from the
 * ledger's views only, so it is the same after a restart.
 */
import { CandidateState, VerdictKind, type Verdict } from '../gen/arswarm/v1/candidate_pb.js';
import { DEFAULT_METRIC } from '../common/config.js';
import { withDefaults } from '../common/option-defaults.js';
import type { LedgerState } from './ledger/state.js';

/** Where an idea stands. */
export type IdeaStatus = 'kept' | 'review' | 'in_flight' | 'rejected' | 'crashed' | 'refused';

/** One idea as the journal and the proposers' history tool show it. */
export interface HistoryEntry {
  id: string;
  title: string;
  hypothesis: string;
  proposer: string;
  status: IdeaStatus;
  /** Stage of the last measured verdict, or the stage it is at when nothing is measured yet. */
  stage: string;
  /** Improvement over the baseline at `stage` (positive = better), when measured. */
  delta?: number;
  /** Standard error of `delta`. */
  sigma?: number;
  n?: number;
  /** Stages it passed. */
  passed: string[];
  /** Its mean metric at each stage decided by a measured promote or reject (the last one there). */
  stageMeans?: Record<string, number>;
  /** Rejected although it looked better (positive Δ short of significance, or passed a lower stage). */
  nearMiss: boolean;
  /** The last verdict's reason, the crash reason or the refusal reason. */
  reason: string;
  /** Its last verdict is a mid-slot stop at `stage` (curve clearly worse; no full-slot metric). */
  stopped?: boolean;
  parent: string;
  diff: string;
  createdAtMs: number;
}

export interface JournalOptions {
  /** Metric name shown in the header. @default val_bpb */
  metric?: string;
  /** @default true */
  lowerIsBetter?: boolean;
  /** Entries per section, newest first. @default 25 */
  limit?: number;
}

/** Defaults of JournalOptions: a config's default metric, 25 entries. */
export const JOURNAL_DEFAULTS: Readonly<Required<JournalOptions>> = {
  metric: DEFAULT_METRIC.name,
  lowerIsBetter: DEFAULT_METRIC.direction === 'minimize',
  limit: 25,
};

const STATUS: Partial<Record<CandidateState, IdeaStatus>> = {
  [CandidateState.ACTIVE]: 'in_flight',
  [CandidateState.REVIEW]: 'review',
  [CandidateState.MERGED]: 'kept',
  [CandidateState.REJECTED]: 'rejected',
  [CandidateState.CRASHED]: 'crashed',
  [CandidateState.REFUSED]: 'refused',
};

const measured = (v: Verdict) => v.n > 0 && v.kind !== VerdictKind.CRASHED;

/** Every candidate as a history entry, oldest first; from the `from`-th candidate on when given. */
export function historyEntries(state: LedgerState, from = 0): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  let i = 0;
  for (const v of state.candidates.values()) {
    if (i++ < from) continue;
    const status = STATUS[v.state];
    if (!status) continue;
    const decided = v.verdicts.filter((x) => x.kind !== VerdictKind.INCONCLUSIVE);
    const last = v.verdicts.at(-1);
    const lastMeasured = [...v.verdicts].reverse().find(measured);
    const passed = decided.filter((x) => x.kind === VerdictKind.PROMOTE).map((x) => x.stage);
    const stage = lastMeasured?.stage ?? last?.stage ?? state.stageNames[v.stageIndex] ?? '';
    out.push({
      id: v.candidate.id,
      title: v.candidate.title,
      hypothesis: v.candidate.hypothesis,
      proposer: v.candidate.proposer,
      status,
      stage,
      delta: lastMeasured?.delta,
      sigma: lastMeasured?.sigma,
      n: lastMeasured?.n,
      passed,
      stageMeans: Object.fromEntries(decided.filter(measured).map((x) => [x.stage, x.candidateMean])),
      nearMiss: status === 'rejected' && ((lastMeasured?.delta ?? 0) > 0 || passed.length > 0),
      reason: status === 'refused' ? v.refusedReason : (last?.reason ?? ''),
      stopped: last?.kind === VerdictKind.REJECT && state.stops.has(last.trialIds[0] ?? ''),
      parent: v.candidate.parentCommit,
      diff: v.candidate.diff,
      createdAtMs: Number(v.candidate.createdAtMs),
    });
  }
  return out;
}

const clip = (s: string, n: number) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

/** `Δ +0.0031 ± 0.0010 (n=3)` */
export function formatDelta(delta: number, sigma?: number, n?: number): string {
  const sign = delta >= 0 ? '+' : '-';
  const s = `Δ ${sign}${Math.abs(delta).toFixed(4)}`;
  const err = sigma !== undefined && sigma > 0 ? ` ± ${sigma.toFixed(4)}` : '';
  return `${s}${err}${n !== undefined && n > 1 ? ` (n=${n})` : ''}`;
}

/** One line per idea: id, title, proposer, and its evidence stage by stage. */
export function entryLine(e: HistoryEntry, state?: LedgerState): string {
  const head = `${e.id} "${clip(e.title, 100)}" [${e.proposer}]`;
  const v = state?.candidates.get(e.id);
  const evidence = v
    ? v.verdicts
        .filter((x) => x.kind !== VerdictKind.INCONCLUSIVE)
        .map((x) =>
          x.kind === VerdictKind.CRASHED
            ? `${x.stage}: crashed (${clip(x.reason, 120)})`
            : // A mid-slot stop (coordinator/early-stop/): its look, not a full-slot Δ.
              x.kind === VerdictKind.REJECT && state?.stops.has(x.trialIds[0] ?? '')
              ? `${x.stage}: ${clip(x.reason, 200)}`
              : `${x.stage} ${formatDelta(x.delta, x.sigma, x.n)}${x.kind === VerdictKind.PROMOTE ? ' passed' : ''}`,
        )
        .join('; ')
    : e.delta !== undefined
      ? `${e.stage} ${formatDelta(e.delta, e.sigma, e.n)}`
      : '';
  switch (e.status) {
    case 'in_flight':
      return `${head} — at ${e.stage}${evidence ? ` (${evidence})` : ', no result yet'}`;
    case 'refused':
      return `${head} — refused: ${clip(e.reason, 160)}`;
    case 'crashed':
      return `${head} — ${evidence || `crashed: ${clip(e.reason, 160)}`}`;
    default:
      return `${head} — ${evidence || clip(e.reason, 160)}`;
  }
}

/** The journal as markdown, newest ideas first in each section. */
export function journalMarkdown(state: LedgerState, options: JournalOptions = {}): string {
  const { limit, metric, lowerIsBetter: lower } = withDefaults(JOURNAL_DEFAULTS, options);
  const all = historyEntries(state).reverse();
  const by = (f: (e: HistoryEntry) => boolean) => all.filter(f);
  const kept = by((e) => e.status === 'kept');
  const flight = by((e) => e.status === 'in_flight' || e.status === 'review');
  const near = by((e) => e.nearMiss);
  const rejected = by((e) => e.status === 'rejected' && !e.nearMiss);
  const crashed = by((e) => e.status === 'crashed');
  const refused = by((e) => e.status === 'refused');
  const out: string[] = [
    '# Research journal',
    '',
    `Head ${state.head.slice(0, 7) || '(none)'} · metric ${metric} (${lower ? 'lower' : 'higher'} is better) · ` +
      `${kept.length} kept, ${flight.length} in flight, ${rejected.length + near.length} rejected ` +
      `(${near.length} near misses), ${crashed.length} crashed, ${refused.length} refused.`,
    'Δ is the improvement over the baseline of the same parent at that stage (positive = better), ± one standard error.',
  ];
  if (state.merges.length) {
    out.push('', '## Best so far');
    const first = state.merges[0]!;
    out.push(`- start ${first.previousHead.slice(0, 7)}: ${metric} ${first.metricBefore.toFixed(6)}`);
    for (const m of state.merges) {
      const v = state.candidates.get(m.candidateId);
      out.push(
        `- ${m.candidateId} "${clip(v?.candidate.title ?? '', 80)}" → ${m.commit.slice(0, 7)}: ${metric} ${m.metricAfter.toFixed(6)}`,
      );
    }
  }
  const section = (title: string, list: HistoryEntry[]) => {
    if (!list.length) return;
    out.push('', `## ${title}`);
    for (const e of list.slice(0, limit)) out.push(`- ${entryLine(e, state)}`);
    if (list.length > limit) out.push(`- … and ${list.length - limit} older`);
  };
  section('Kept (merged)', kept);
  section('In flight (do not duplicate)', flight);
  section('Near misses (looked better, not confirmed)', near);
  section('Rejected', rejected);
  section('Crashed', crashed);
  section('Refused before any trial', refused.slice(0, Math.min(limit, 10)));
  return `${out.join('\n')}\n`;
}
