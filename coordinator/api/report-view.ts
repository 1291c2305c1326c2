/**
 * GetReport: the ladder's transfer report (coordinator/transfer-report.ts) plus what
 * each stage judged and cost, and how far the shared branch moved.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { CandidateState, VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import type { GetReportResponseSchema } from '../../gen/arswarm/v1/control_pb.js';
import type { LedgerState } from '../ledger/state.js';
import { transferReport } from '../transfer-report.js';
import { standingVerdicts } from './views.js';

export function reportView(
  state: LedgerState,
  lowerIsBetter: boolean,
): MessageInitShape<typeof GetReportResponseSchema> {
  const names = state.stageNames;
  const stages = names.map((name) => ({
    name,
    judged: 0,
    promoted: 0,
    rejected: 0,
    crashed: 0,
    trials: 0,
    gpuSeconds: 0,
  }));
  let merged = 0,
    refused = 0;
  for (const v of state.candidates.values()) {
    if (v.state === CandidateState.MERGED) merged++;
    if (v.state === CandidateState.REFUSED) refused++;
    for (const x of standingVerdicts(v.verdicts, names)) {
      const s = stages[names.indexOf(x.stage)];
      if (!s || x.kind === VerdictKind.INCONCLUSIVE) continue;
      s.judged++;
      if (x.kind === VerdictKind.PROMOTE) s.promoted++;
      else if (x.kind === VerdictKind.REJECT) s.rejected++;
      else if (x.kind === VerdictKind.CRASHED) s.crashed++;
    }
  }
  for (const tv of state.trials.values()) {
    const s = stages[names.indexOf(tv.trial.stage?.name ?? '')];
    if (!s || !tv.result) continue;
    s.trials++;
    s.gpuSeconds += Number(tv.result.runMs) / 1000;
  }
  const first = state.merges[0],
    last = state.merges.at(-1);
  return {
    stages,
    pairs: transferReport(state).rungs.map((r) => ({
      lower: r.from,
      upper: r.to,
      n: r.n,
      spearman: r.spearman,
      promoted: r.promoted,
      heldUp: r.heldUp,
    })),
    candidates: BigInt(state.candidates.size),
    merged: BigInt(merged),
    refused: BigInt(refused),
    costUsd: state.costUsd,
    gpuSeconds: stages.reduce((a, s) => a + s.gpuSeconds, 0),
    improvement: first && last ? (lowerIsBetter ? 1 : -1) * (first.metricBefore - last.metricAfter) : 0,
  };
}
