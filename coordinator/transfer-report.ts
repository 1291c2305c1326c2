/**
 * Transfer tracking and cost: for every candidate that ran at two or more
 * stages, its Δ at each; per pair of consecutive rungs, the rank correlation
 * of Δ and how many promotions held up at the next rung; and what each
 * candidate cost (GPU-seconds by stage, LLM tokens, dollars).
 */
import { VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import type { LedgerState } from './ledger/state.js';

export interface RungTransfer {
  from: string;
  to: string;
  /** Candidates judged at both rungs. */
  n: number;
  /** Spearman rank correlation of Δ between the rungs (NaN below 3 pairs). */
  spearman: number;
  /** Promoted at `from` and judged at `to`. */
  promoted: number;
  /** Of those, promoted at `to` too. */
  heldUp: number;
}

export interface CandidateCost {
  gpuSecondsByStage: Record<string, number>;
  gpuSeconds: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface TransferReport {
  rungs: RungTransfer[];
  /** Candidate id → stage → last decisive Δ. */
  deltas: Record<string, Record<string, number>>;
}

/** Ranks with ties averaged (1-based). */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) out[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return out;
}

/** Spearman's rho: the Pearson correlation of the ranks. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length || a.length < 3) return NaN;
  const ra = ranks(a);
  const rb = ranks(b);
  const m = (ra.length + 1) / 2;
  let num = 0,
    da = 0,
    db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - m) * (rb[i]! - m);
    da += (ra[i]! - m) ** 2;
    db += (rb[i]! - m) ** 2;
  }
  return da && db ? num / Math.sqrt(da * db) : NaN;
}

export function transferReport(state: LedgerState): TransferReport {
  const stages = state.stageNames;
  const deltas: Record<string, Record<string, number>> = {};
  const promotedAt: Record<string, Set<string>> = {};
  for (const v of state.candidates.values()) {
    for (const x of v.verdicts) {
      if (x.kind !== VerdictKind.PROMOTE && x.kind !== VerdictKind.REJECT) continue;
      (deltas[v.candidate.id] ??= {})[x.stage] = x.delta;
      if (x.kind === VerdictKind.PROMOTE) (promotedAt[v.candidate.id] ??= new Set()).add(x.stage);
    }
  }
  const rungs: RungTransfer[] = [];
  for (let i = 0; i + 1 < stages.length; i++) {
    const from = stages[i]!;
    const to = stages[i + 1]!;
    const a: number[] = [];
    const b: number[] = [];
    let promoted = 0,
      heldUp = 0;
    for (const [id, d] of Object.entries(deltas)) {
      if (d[from] === undefined || d[to] === undefined) continue;
      a.push(d[from]!);
      b.push(d[to]!);
      if (promotedAt[id]?.has(from)) {
        promoted++;
        if (promotedAt[id]?.has(to)) heldUp++;
      }
    }
    rungs.push({ from, to, n: a.length, spearman: spearman(a, b), promoted, heldUp });
  }
  return {
    rungs,
    deltas: Object.fromEntries(Object.entries(deltas).filter(([, d]) => Object.keys(d).length >= 2)),
  };
}

/** What one candidate cost. */
export function candidateCost(state: LedgerState, id: string): CandidateCost {
  const byStage: Record<string, number> = {};
  for (const t of state.candidateTrials(id)) {
    if (!t.result) continue;
    const s = t.trial.stage?.name ?? '';
    byStage[s] = (byStage[s] ?? 0) + Number(t.result.runMs) / 1000;
  }
  const u = state.candidates.get(id)?.candidate.usage;
  return {
    gpuSecondsByStage: byStage,
    gpuSeconds: Object.values(byStage).reduce((a, b) => a + b, 0),
    inputTokens: Number(u?.inputTokens ?? 0n),
    outputTokens: Number(u?.outputTokens ?? 0n),
    costUsd: u?.costUsd ?? 0,
  };
}
