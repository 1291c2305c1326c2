/**
 * Mid-slot stopping in the simulation: the coordinator's own rule
 * (coordinator/early-stop/rule.ts, `judgeCurve`) applied to a candidate
 * trial's simulated learning curve, look by look, as a coordinator watching
 * the live curve would. At each look the baselines are the same parent's
 * and stage's baseline runs that had finished by the moment the look's
 * window completed (the first point past the look), and the prior spread is
 * pooled over earlier heads' baselines at that stage, as the rule's caller
 * is meant to pool it. A stop frees the worker at that moment.
 */
import type { CurvePoint } from '../../common/curve.js';
import {
  judgeCurve,
  looksOf,
  spreadAt,
  type EarlyStopRule,
  type StopJudgement,
} from '../../coordinator/early-stop/rule.js';
import { pool, type NoiseSums } from '../../coordinator/stats.js';

/** A baseline run's curve, with when it finished on the simulated clock. */
export interface BaselineCurve {
  parent: string;
  stage: string;
  endS: number;
  curve: readonly CurvePoint[];
}

/** Where a stopped trial ends and why. */
export interface SimStop {
  /** Share of the slot at which the stop took effect (the point that completed the look). */
  fraction: number;
  judgement: Extract<StopJudgement, { stop: true }>;
}

export interface JudgeInput {
  rule: EarlyStopRule;
  stage: string;
  parent: string;
  /** Simulated second the trial started its slot. */
  startS: number;
  budgetS: number;
  /** The trial's whole curve (the simulation knows it in advance; only its past is judged). */
  curve: readonly CurvePoint[];
  lowerIsBetter: boolean;
  /** Baselines still running at the trial's start, with their known end times. */
  running: readonly BaselineCurve[];
}

/** The finished baseline curves of a run, and the stopping rule's judgement over them. */
export class SimEarlyStop {
  private readonly finished: BaselineCurve[] = [];

  /** Records a finished baseline run (status ok, with a curve). */
  add(b: BaselineCurve): void {
    if (b.curve.length > 0) this.finished.push(b);
  }

  /** The first look at which the rule stops the trial, or undefined when it runs its slot. */
  judge(o: JudgeInput): SimStop | undefined {
    const all = [...this.finished, ...o.running].filter((b) => b.stage === o.stage && b.curve.length > 0);
    for (const look of looksOf(o.rule)) {
      const past = o.curve.find((p) => p.fraction > look + 1e-9);
      if (!past) break;
      const at = o.startS + past.fraction * o.budgetS;
      const known = all.filter((b) => b.endS <= at);
      const same = known.filter((b) => b.parent === o.parent).map((b) => b.curve);
      const others = new Map<string, (readonly CurvePoint[])[]>();
      for (const b of known)
        if (b.parent !== o.parent) others.set(b.parent, [...(others.get(b.parent) ?? []), b.curve]);
      const prior = (l: number): NoiseSums =>
        pool(...[...others.values()].map((group) => spreadAt(group, l, o.rule.window)));
      const seen = o.curve.filter((p) => p.fraction <= past.fraction + 1e-9);
      const j = judgeCurve(o.rule, seen, same, o.lowerIsBetter, prior);
      if (j.stop) return { fraction: past.fraction, judgement: j };
    }
    return undefined;
  }
}
