/**
 * Output integrity of time: a reported `training_seconds` may not exceed the
 * time the worker measured for the run, nor the stage's budget, each with the
 * target's tolerance. Only upper bounds: a target may legitimately stop early.
 */
import { TrainingSecondsCheck, type IntegritySpec } from '../gen/arswarm/v1/trial_pb.js';

const fmt = (x: number) => (Math.round(x * 100) / 100).toString();

/**
 * The reason a reported training_seconds is not believable (rule
 * `training-seconds-mismatch`), or undefined. `runSeconds` is the measured
 * wall time of the command.
 */
export function checkTrainingSeconds(
  reported: number | undefined,
  runSeconds: number,
  budgetSeconds: number,
  spec: IntegritySpec | undefined,
): string | undefined {
  if (reported === undefined || !spec) return undefined;
  const mode = spec.trainingSeconds;
  if (mode === TrainingSecondsCheck.OFF || mode === TrainingSecondsCheck.UNSPECIFIED) return undefined;
  const pre = `rule training-seconds-mismatch: training_seconds ${fmt(reported)}`;
  if (reported < 0) return `${pre} is negative`;
  if (mode === TrainingSecondsCheck.ALL) {
    const limit = runSeconds * (1 + spec.wallToleranceFraction) + spec.wallToleranceSeconds;
    if (reported > limit)
      return `${pre} is more than the run took: measured ${fmt(runSeconds)} s (limit ${fmt(limit)} s: +${fmt(spec.wallToleranceFraction * 100)}% +${fmt(spec.wallToleranceSeconds)} s)`;
  }
  if (budgetSeconds > 0) {
    const limit = budgetSeconds * (1 + spec.budgetToleranceFraction) + spec.budgetToleranceSeconds;
    if (reported > limit)
      return `${pre} is more than the stage budget of ${budgetSeconds} s allows (limit ${fmt(limit)} s: +${fmt(spec.budgetToleranceFraction * 100)}% +${fmt(spec.budgetToleranceSeconds)} s)`;
  }
  return undefined;
}
