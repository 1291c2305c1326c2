/**
 * Rules the audit applies to a candidate's recorded results before it may
 * merge: the evidence must come from runs whose output had exactly one
 * report block without repeated keys, whose reported training time fits the
 * slot and the measured run time, and whose replicates responded to the seed
 * the ladder gave them. The worker's own checks refuse most of this at run
 * time; these re-read what the ledger holds, so a gap in one place is caught
 * in the other.
 */
import { TrialStatus, type TrialResult } from '../../gen/arswarm/v1/trial_pb.js';
import type { RuleFinding } from './diff-rules.js';

export interface ResultRulesInput {
  /** The candidate's results (every stage), with their log tails. */
  results: readonly TrialResult[];
  /** Metrics of the baselines at the top stage (for the seed check). */
  baselineMetrics: readonly number[];
  /** The top stage's name (the seed check looks at its replicates). */
  topStage: string;
  /** Slot and wall-clock limit of each stage by name, seconds. */
  stages: ReadonlyMap<string, { budgetSeconds: number; timeoutSeconds: number }>;
}

const KEY = /^([A-Za-z_][A-Za-z0-9_.-]*):\s*\S/;

/** Lines of a log, `\r` progress rewrites split like the worker's parser does. */
function lines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/** Every rule the recorded results break, one finding per rule. */
export function resultFindings(o: ResultRulesInput): RuleFinding[] {
  const byRule = new Map<string, string[]>();
  const add = (rule: string, why: string) => {
    const list = byRule.get(rule) ?? [];
    if (list.length < 5) list.push(why);
    byRule.set(rule, list);
  };
  for (const r of o.results) {
    if (r.status !== TrialStatus.OK) continue;
    const id = r.trialId;
    const ls = lines(r.logTail);
    const blocks = ls.filter((l) => l.trim() === '---').length;
    if (blocks > 1) add('duplicate-result-block', `${id}: ${blocks} '---' blocks in the output`);
    const last = ls.map((l) => l.trim()).lastIndexOf('---');
    if (last >= 0) {
      const seen = new Set<string>();
      for (const l of ls.slice(last + 1)) {
        const key = KEY.exec(l.trim())?.[1];
        if (!key) continue;
        if (seen.has(key)) add('repeated-key', `${id}: key ${key} printed more than once`);
        seen.add(key);
      }
    }
    const stage = o.stages.get(r.trial?.stage?.name ?? '');
    const training = r.metrics.training_seconds;
    if (stage && training !== undefined) {
      const runS = Number(r.runMs) / 1000;
      // Start-up (imports, compilation) is outside the slot; half the margin to the timeout allows for it.
      const overhead = Math.max(1, (stage.timeoutSeconds - stage.budgetSeconds) / 2);
      if (training > stage.budgetSeconds * 1.05 + 1)
        add(
          'training-seconds-over-budget',
          `${id}: reports ${training} s of training in a ${stage.budgetSeconds} s slot`,
        );
      if (runS > training + overhead)
        add(
          'training-seconds-mismatch',
          `${id}: ran ${runS.toFixed(1)} s but reports ${training} s of training (start-up allowance ${overhead.toFixed(1)} s)`,
        );
    }
  }
  // Replicates at distinct seeds that agree to the last digit while the baseline's do not:
  // the run ignores the seed it was given (a pinned lucky seed).
  const top = o.results.filter((r) => r.status === TrialStatus.OK && r.trial?.stage?.name === o.topStage);
  const seeds = new Set(top.map((r) => r.trial?.seed));
  const metrics = new Set(top.map((r) => r.metric));
  const baseSpread = new Set(o.baselineMetrics).size > 1;
  if (top.length >= 2 && seeds.size >= 2 && metrics.size === 1 && baseSpread)
    add(
      'seed-insensitive',
      `${top.length} replicates at seeds ${[...seeds].join(', ')} all gave ${top[0]!.metric}, the baseline's differ`,
    );
  return [...byRule].map(([rule, reasons]) => ({ rule, reasons }));
}
