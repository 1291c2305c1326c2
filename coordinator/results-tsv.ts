/**
 * `results.tsv` in autoresearch's columns: commit, val_bpb (6 decimals,
 * 0.000000 for a crash), memory_gb (peak_vram_mb / 1024, 1 decimal), status
 * (keep / discard / crash), description. The first row is the baseline.
 * Candidates still in flight or waiting for review are not decided yet and
 * are left out. `extra` adds arswarm's own columns.
 */
import { CandidateState, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { short } from '../common/git.js';
import type { LedgerState } from './ledger/state.js';

export const RESULTS_COLUMNS = ['commit', 'val_bpb', 'memory_gb', 'status', 'description'] as const;
export const EXTRA_COLUMNS = ['candidate', 'proposer', 'stage', 'delta', 'sigma', 'n'] as const;

const clean = (s: string) => s.replace(/[\t\r\n]+/g, ' ').trim();

export function resultsTsv(state: LedgerState, options: { extra?: boolean } = {}): string {
  const extra = options.extra === true;
  const rows: string[][] = [[...RESULTS_COLUMNS, ...(extra ? EXTRA_COLUMNS : [])]];
  const first = state.heads[0];
  const stage0 = state.stageNames[0] ?? '';
  if (first) {
    const base = [...state.trials.values()].filter(
      (t) =>
        t.trial.parentCommit === first &&
        !t.trial.candidateId &&
        t.trial.stage?.name === stage0 &&
        t.result?.status === TrialStatus.OK,
    );
    if (base.length) {
      const m = base.reduce((a, t) => a + t.result!.metric, 0) / base.length;
      const mem = Math.max(...base.map((t) => t.result!.peakMemoryMb));
      rows.push([
        short(first),
        m.toFixed(6),
        (mem / 1024).toFixed(1),
        'keep',
        'baseline',
        ...(extra ? ['', '', stage0, '', '', String(base.length)] : []),
      ]);
    }
  }
  for (const v of state.candidates.values()) {
    const status =
      v.state === CandidateState.MERGED
        ? 'keep'
        : v.state === CandidateState.REJECTED
          ? 'discard'
          : v.state === CandidateState.CRASHED
            ? 'crash'
            : '';
    if (!status) continue;
    const trials = state.candidateTrials(v.candidate.id).filter((t) => t.result);
    const last = v.verdicts.filter((x) => x.kind !== VerdictKind.INCONCLUSIVE).at(-1);
    const ok = trials.filter(
      (t) => t.result!.status === TrialStatus.OK && t.trial.stage?.name === last?.stage,
    );
    const metric =
      status === 'crash' || ok.length === 0 ? 0 : ok.reduce((a, t) => a + t.result!.metric, 0) / ok.length;
    const mem =
      status === 'crash' || trials.length === 0 ? 0 : Math.max(...trials.map((t) => t.result!.peakMemoryMb));
    const commit = v.mergedCommit || v.parent;
    rows.push([
      short(commit),
      metric.toFixed(6),
      (mem / 1024).toFixed(1),
      status,
      clean(`${v.candidate.title}${status === 'crash' && last ? ` (${last.reason})` : ''}`),
      ...(extra
        ? [
            v.candidate.id,
            v.candidate.proposer,
            last?.stage ?? '',
            last ? last.delta.toFixed(6) : '',
            last ? last.sigma.toFixed(6) : '',
            last ? String(last.n) : '',
          ]
        : []),
    ]);
  }
  return rows.map((r) => r.join('\t')).join('\n') + '\n';
}
