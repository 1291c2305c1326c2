import { describe, expect, it } from 'vitest';
import { parseConfig } from './config-load.js';
import { ArswarmError } from './errors.js';
import { DEFAULT_INTEGRITY } from './integrity-config.js';
import { integritySpec, rulesOfSpec } from './integrity-spec.js';
import { TargetSpecSchema, TrainingSecondsCheck } from '../gen/arswarm/v1/trial_pb.js';
import { create } from '@bufbuild/protobuf';

const base = {
  target: { repo: '.', editable: ['train.py'], locked: ['prepare.py'], command: 'python3 train.py' },
  stages: [{ name: 'screen', budget_seconds: 300 }],
};

describe('target.integrity', () => {
  it('defaults every check on, with the stated tolerances and no frozen region', () => {
    const c = parseConfig(base);
    expect(c.target.integrity).toEqual(DEFAULT_INTEGRITY);
    expect(DEFAULT_INTEGRITY).toEqual({
      semantic: true,
      eval_functions: ['evaluate_bpb', 'evaluate'],
      locked_names: [],
      frozen: [],
      training_seconds: 'check',
      wall_tolerance_seconds: 2,
      wall_tolerance_fraction: 0.05,
      budget_tolerance_seconds: 5,
      budget_tolerance_fraction: 0.1,
    });
  });

  it('refuses a bad regex, an unknown mode or key, naming the field', () => {
    const bad = (integrity: unknown) => {
      try {
        parseConfig({ ...base, target: { ...base.target, integrity } });
        return undefined;
      } catch (err) {
        return (err as ArswarmError).field;
      }
    };
    expect(bad({ frozen: [{ file: 'train.py', from: '(' }] })).toBe('target.integrity.frozen[0].from');
    expect(bad({ training_seconds: 'sometimes' })).toBe('target.integrity.training_seconds');
    expect(bad({ eval_functions: ['not a name'] })).toBe('target.integrity.eval_functions[0]');
    expect(bad({ frozen_regions: [] })).toMatch(/^target\.integrity/);
  });

  it('travels in the TargetSpec and comes back as the same rules on the worker', () => {
    const c = parseConfig({
      ...base,
      target: {
        ...base.target,
        integrity: {
          frozen: [{ file: 'train.py', from: '^val_bpb = ' }],
          training_seconds: 'budget',
          locked_names: ['SEED'],
        },
      },
    });
    const spec = create(TargetSpecSchema, { locked: c.target.locked, integrity: integritySpec(c.target) });
    expect(spec.integrity?.trainingSeconds).toBe(TrainingSecondsCheck.BUDGET);
    expect(spec.integrity?.wallToleranceSeconds).toBe(2);
    expect(rulesOfSpec(spec)).toEqual({
      semantic: true,
      lockedFiles: ['prepare.py'],
      evalFunctions: ['evaluate_bpb', 'evaluate'],
      lockedNames: ['SEED'],
      reportKeys: ['val_bpb', 'training_seconds'],
      frozen: [{ file: 'train.py', from: '^val_bpb = ' }],
    });
    // A trial from a coordinator without integrity rules carries none.
    expect(rulesOfSpec(create(TargetSpecSchema, {}))).toBeUndefined();
  });
});
