/**
 * The progress chart's data, in the spirit of autoresearch's progress.png:
 * per stage, every finished trial in the order it finished, and the running
 * best of kept (merged) changes as a step line that starts at the first
 * head's baseline.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { CandidateState, VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import type {
  GetProgressResponseSchema,
  ProgressPointSchema,
  ProgressStepSchema,
  StageProgressSchema,
} from '../../gen/arswarm/v1/control_pb.js';
import { TrialKind, TrialStatus, type TrialResult } from '../../gen/arswarm/v1/trial_pb.js';
import type { LedgerState, TrialView } from '../ledger/state.js';

type Point = MessageInitShape<typeof ProgressPointSchema>;
type Step = MessageInitShape<typeof ProgressStepSchema>;

const finishedAt = (r: TrialResult) => Number(r.finishedAtMs);

export function progress(
  state: LedgerState,
  lowerIsBetter: boolean,
  metric: string,
): MessageInitShape<typeof GetProgressResponseSchema> {
  const better = (a: number, b: number) => (lowerIsBetter ? a < b : a > b);
  const byStage = new Map<string, (TrialView & { result: TrialResult })[]>();
  for (const tv of state.trials.values()) {
    if (!tv.result) continue;
    const name = tv.trial.stage?.name ?? '';
    const list = byStage.get(name) ?? [];
    list.push(tv as TrialView & { result: TrialResult });
    byStage.set(name, list);
  }
  const stages: MessageInitShape<typeof StageProgressSchema>[] = state.stageNames.map((stage) => {
    const trials = (byStage.get(stage) ?? []).sort(
      (a, b) => finishedAt(a.result) - finishedAt(b.result) || a.trial.id.localeCompare(b.trial.id),
    );
    const xOf = new Map<string, number>();
    const points: Point[] = trials.map((tv, x) => {
      xOf.set(tv.trial.id, x);
      const cv = tv.trial.candidateId ? state.candidates.get(tv.trial.candidateId) : undefined;
      return {
        x,
        metric: tv.result.status === TrialStatus.OK ? tv.result.metric : NaN,
        trialId: tv.trial.id,
        candidateId: tv.trial.candidateId,
        kind: tv.trial.kind,
        status: tv.result.status,
        candidateState: cv?.state ?? CandidateState.UNSPECIFIED,
        finishedAtMs: tv.result.finishedAtMs,
      };
    });
    return { stage, points, best: steps(state, stage, trials, xOf, better) };
  });
  return { stages, metric, lowerIsBetter };
}

function steps(
  state: LedgerState,
  stage: string,
  trials: (TrialView & { result: TrialResult })[],
  xOf: Map<string, number>,
  better: (a: number, b: number) => boolean,
): Step[] {
  const raw: Step[] = [];
  const first = state.heads[0];
  const base = trials.filter(
    (tv) =>
      tv.trial.kind === TrialKind.BASELINE &&
      tv.trial.parentCommit === first &&
      tv.result.status === TrialStatus.OK,
  );
  // The line starts at the left edge: the first head is what every change is measured against.
  if (base.length)
    raw.push({
      x: 0,
      metric: base.reduce((a, tv) => a + tv.result.metric, 0) / base.length,
      candidateId: '',
      title: 'baseline',
    });
  for (const m of state.merges) {
    const v = state.candidates.get(m.candidateId);
    if (v?.state !== CandidateState.MERGED) continue;
    const verdict = v.verdicts.filter((x) => x.stage === stage && x.kind === VerdictKind.PROMOTE).at(-1);
    if (!verdict || Number.isNaN(verdict.candidateMean)) continue;
    const xs = verdict.trialIds.map((id) => xOf.get(id)).filter((x) => x !== undefined);
    if (!xs.length) continue;
    raw.push({
      x: Math.max(...xs),
      metric: verdict.candidateMean,
      candidateId: v.candidate.id,
      title: v.candidate.title,
    });
  }
  raw.sort((a, b) => (a.x ?? 0) - (b.x ?? 0) || (a.candidateId ? 1 : 0) - (b.candidateId ? 1 : 0));
  const out: Step[] = [];
  for (const s of raw) {
    const prev = out.at(-1);
    if (!prev || better(s.metric!, prev.metric!)) out.push(s);
  }
  return out;
}
