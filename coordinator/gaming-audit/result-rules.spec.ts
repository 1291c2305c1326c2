import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { TrialResultSchema, TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { resultFindings } from './result-rules.js';

const STAGES = new Map([['top', { budgetSeconds: 10, timeoutSeconds: 30 }]]);

function result(o: { seed?: number; metric?: number; training?: number; runMs?: number; tail?: string }) {
  const metric = o.metric ?? 1.0;
  return create(TrialResultSchema, {
    trialId: `t${o.seed ?? 1}`,
    status: TrialStatus.OK,
    metric,
    metrics: { val_bpb: metric, training_seconds: o.training ?? 10 },
    runMs: BigInt(o.runMs ?? 12_000),
    logTail: o.tail ?? `step 1\n---\nval_bpb: ${metric}\ntraining_seconds: ${o.training ?? 10}\n`,
    trial: { seed: o.seed ?? 1, stage: { name: 'top' } },
  });
}

const rules = (results: ReturnType<typeof result>[], baselineMetrics = [1.01, 1.02]) =>
  resultFindings({ results, baselineMetrics, topStage: 'top', stages: STAGES }).map((f) => f.rule);

describe('result rules of the top-stage audit', () => {
  it('pass honest replicates', () => {
    expect(rules([result({ seed: 1, metric: 0.99 }), result({ seed: 2, metric: 0.98 })])).toEqual([]);
  });

  it('flag two blocks and a repeated key in the log tail', () => {
    expect(rules([result({ tail: '---\nval_bpb: 1\n---\nval_bpb: 0.5\n' })])).toEqual([
      'duplicate-result-block',
    ]);
    expect(rules([result({ tail: '---\nval_bpb: 1\nval_bpb: 0.5\n' })])).toEqual(['repeated-key']);
  });

  it('flag training over the budget, and a run far longer than the training it reports', () => {
    expect(rules([result({ training: 20, runMs: 21_000 })])).toEqual(['training-seconds-over-budget']);
    // Allowance: half the 20 s margin between budget and timeout.
    expect(rules([result({ training: 10, runMs: 19_000 })])).toEqual([]);
    expect(rules([result({ training: 10, runMs: 21_000 })])).toEqual(['training-seconds-mismatch']);
  });

  it('flag replicates that ignore their seed while the baseline does not', () => {
    const same = [result({ seed: 1, metric: 0.9 }), result({ seed: 2, metric: 0.9 })];
    expect(rules(same)).toEqual(['seed-insensitive']);
    // A deterministic target (the baseline agrees too) is not suspicious.
    expect(rules(same, [1.0, 1.0])).toEqual([]);
  });
});
