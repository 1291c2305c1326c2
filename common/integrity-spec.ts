/**
 * `target.integrity` on the wire: the coordinator writes it into every
 * trial's TargetSpec, and the worker reads back the same semantic rules the
 * intake used, so both refuse the same patches.
 */
import { create } from '@bufbuild/protobuf';
import {
  IntegritySpecSchema,
  TrainingSecondsCheck,
  type IntegritySpec,
  type TargetSpec,
} from '../gen/arswarm/v1/trial_pb.js';
import type { IntegrityConfig } from './integrity-config.js';
import type { IntegrityRules } from './python-check/rules.js';

const CHECKS: Record<IntegrityConfig['training_seconds'], TrainingSecondsCheck> = {
  check: TrainingSecondsCheck.ALL,
  budget: TrainingSecondsCheck.BUDGET,
  off: TrainingSecondsCheck.OFF,
};

/** The IntegritySpec of a target's config. */
export function integritySpec(t: {
  readonly metric: { readonly name: string };
  readonly integrity: IntegrityConfig;
}): IntegritySpec {
  const i = t.integrity;
  return create(IntegritySpecSchema, {
    semantic: i.semantic,
    evalFunctions: i.eval_functions,
    lockedNames: i.locked_names,
    reportKeys: [t.metric.name, 'training_seconds'],
    frozen: i.frozen.map((f) => ({ file: f.file, startPattern: f.from, endPattern: f.to ?? '' })),
    trainingSeconds: CHECKS[i.training_seconds],
    wallToleranceSeconds: i.wall_tolerance_seconds,
    wallToleranceFraction: i.wall_tolerance_fraction,
    budgetToleranceSeconds: i.budget_tolerance_seconds,
    budgetToleranceFraction: i.budget_tolerance_fraction,
  });
}

/** The semantic rules a trial carries; undefined when it carries none (an older coordinator). */
export function rulesOfSpec(spec: TargetSpec): IntegrityRules | undefined {
  const i = spec.integrity;
  if (!i) return undefined;
  return {
    semantic: i.semantic,
    lockedFiles: [...new Set([...spec.locked, ...Object.keys(spec.lockedSha256)])],
    evalFunctions: i.evalFunctions,
    lockedNames: i.lockedNames,
    reportKeys: i.reportKeys,
    frozen: i.frozen.map((f) => ({
      file: f.file,
      from: f.startPattern,
      ...(f.endPattern ? { to: f.endPattern } : {}),
    })),
  };
}
