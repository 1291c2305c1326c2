import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { IntegritySpecSchema, TrainingSecondsCheck } from '../gen/arswarm/v1/trial_pb.js';
import { checkTrainingSeconds } from './timing-check.js';

const spec = (trainingSeconds: TrainingSecondsCheck) =>
  create(IntegritySpecSchema, {
    trainingSeconds,
    wallToleranceSeconds: 2,
    wallToleranceFraction: 0.05,
    budgetToleranceSeconds: 5,
    budgetToleranceFraction: 0.1,
  });

describe('checkTrainingSeconds', () => {
  const all = spec(TrainingSecondsCheck.ALL);

  it('passes an honest report, an early stop and a report without training_seconds', () => {
    expect(checkTrainingSeconds(300.1, 326, 300, all)).toBeUndefined();
    expect(checkTrainingSeconds(120, 150, 300, all)).toBeUndefined();
    expect(checkTrainingSeconds(undefined, 1, 300, all)).toBeUndefined();
    // Within the tolerances: 1.05 * 10 + 2 and 1.1 * 300 + 5.
    expect(checkTrainingSeconds(12.5, 10, 300, all)).toBeUndefined();
    expect(checkTrainingSeconds(335, 400, 300, all)).toBeUndefined();
  });

  it('refuses more training than the run took, or than the budget allows, with the figures', () => {
    expect(checkTrainingSeconds(300.1, 1.2, 300, all)).toBe(
      'rule training-seconds-mismatch: training_seconds 300.1 is more than the run took: measured 1.2 s (limit 3.26 s: +5% +2 s)',
    );
    expect(checkTrainingSeconds(336, 400, 300, all)).toBe(
      'rule training-seconds-mismatch: training_seconds 336 is more than the stage budget of 300 s allows (limit 335 s: +10% +5 s)',
    );
    expect(checkTrainingSeconds(-1, 10, 300, all)).toMatch(/is negative/);
  });

  it('`budget` checks the budget only (simulated time); `off` and an older trial check nothing', () => {
    const budget = spec(TrainingSecondsCheck.BUDGET);
    expect(checkTrainingSeconds(300.1, 1.2, 300, budget)).toBeUndefined();
    expect(checkTrainingSeconds(400, 1.2, 300, budget)).toMatch(/stage budget of 300 s/);
    expect(checkTrainingSeconds(400, 1.2, 300, spec(TrainingSecondsCheck.OFF))).toBeUndefined();
    expect(checkTrainingSeconds(400, 1.2, 300, undefined)).toBeUndefined();
  });
});
