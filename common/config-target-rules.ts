/**
 * Cross-field rules of `target.constants`, `target.setup` and the stage
 * environments that zod's per-field schemas cannot express: settings that
 * could never work (a constant in a file outside the target's contract, a value
 * that is not a literal, a TIME_BUDGET that would disagree with the exported
 * one) are refused at load with the field named. What needs the repo's
 * content (is `DEPTH = ...` really in train.py?) is checked when the
 * coordinator starts (coordinator/target-check.ts).
 */
import picomatch from 'picomatch';
import type { z } from 'zod';
import { isConstantLiteral } from './constant-override.js';

/** The constant and variable that always carry a stage's `budget_seconds`. */
export const TIME_BUDGET = 'TIME_BUDGET';

/** Characters that make a path a glob. */
const GLOB_CHARS = /[*?[\]{}!]/;

/** Variables the worker sets itself for every trial; a config may not set them. */
const WORKER_SET = new Set([
  TIME_BUDGET,
  'SEED',
  'ARSWARM_STAGE',
  'ARSWARM_TRIAL_ID',
  'CUDA_VISIBLE_DEVICES',
]);

/** Credentials and worker wiring a trial never gets, and the variables every process needs. */
const RESERVED = /^(ARSWARM_(TOKEN|NATS_|CODE_ADDR)|NATS_|ANTHROPIC_|PATH$|HOME$)/;

/** The slice of the config these rules read. */
export interface TargetRulesInput {
  readonly target: {
    readonly editable: readonly string[];
    readonly locked: readonly string[];
    readonly env: Readonly<Record<string, string>>;
    readonly constants: Readonly<Record<string, string>>;
    readonly setup?: { readonly inputs: readonly string[]; readonly env_var: string };
  };
  readonly stages: readonly { readonly env: Readonly<Record<string, string>> }[];
}

type Issue = { path: (string | number)[]; message: string };

/** Every violation, each with the path of the field at fault. */
export function targetRuleIssues(cfg: TargetRulesInput): Issue[] {
  const issues: Issue[] = [];
  const t = cfg.target;
  const isEditable = picomatch(t.editable as string[], { dot: true });
  const isLocked = t.locked.length ? picomatch(t.locked as string[], { dot: true }) : () => false;

  if (TIME_BUDGET in t.env)
    issues.push({
      path: ['target', 'env', TIME_BUDGET],
      message: `${TIME_BUDGET} is exported from each stage's budget_seconds; set budget_seconds instead`,
    });
  cfg.stages.forEach((s, i) => {
    if (TIME_BUDGET in s.env)
      issues.push({
        path: ['stages', i, 'env', TIME_BUDGET],
        message: `${TIME_BUDGET} is exported from budget_seconds (and written into a ${TIME_BUDGET} constant); set budget_seconds instead`,
      });
  });

  for (const [name, file] of Object.entries(t.constants)) {
    const path = ['target', 'constants', name];
    if (GLOB_CHARS.test(file)) {
      issues.push({ path, message: `must name one file, not a glob ("${file}")` });
      continue;
    }
    const editable = isEditable(file);
    const locked = isLocked(file);
    if (!editable && !locked)
      issues.push({
        path,
        message: `${file} is neither editable nor locked: a constant is set in a file of the target's contract; list it in target.editable or target.locked`,
      });
    // TIME_BUDGET always has a value: every stage's budget_seconds.
    if (name !== TIME_BUDGET && !cfg.stages.some((s) => name in s.env))
      issues.push({ path, message: `no stage sets ${name} in its env` });
    cfg.stages.forEach((s, i) => {
      const value = s.env[name];
      if (value !== undefined && !isConstantLiteral(value))
        issues.push({
          path: ['stages', i, 'env', name],
          message: `is written into ${file} as the constant ${name}, so it must be a Python literal (a number, True, False, None or a simple quoted string), not ${JSON.stringify(value)}`,
        });
    });
  }

  if (t.setup) {
    t.setup.inputs.forEach((input, i) => {
      const path = ['target', 'setup', 'inputs', i];
      if (GLOB_CHARS.test(input))
        issues.push({ path, message: `must name one file, not a glob ("${input}")` });
      else if (!isLocked(input))
        issues.push({
          path,
          message: `${input} is not locked; the prepared environment is keyed by these files, so no patch may change them: list it in target.locked`,
        });
    });
    const v = t.setup.env_var;
    const path = ['target', 'setup', 'env_var'];
    if (WORKER_SET.has(v) || RESERVED.test(v))
      issues.push({
        path,
        message: `${v} is reserved (the worker sets it, or it names a credential); pick another name`,
      });
    else if (v in t.env)
      issues.push({ path, message: `${v} is also set in target.env; it is the environment's path` });
    else
      cfg.stages.forEach((s, i) => {
        if (v in s.env)
          issues.push({
            path: ['stages', i, 'env', v],
            message: `${v} is target.setup.env_var, the environment's path`,
          });
      });
  }
  return issues;
}

/** Adds targetRuleIssues to a zod refinement context. */
export function refineTargetRules(cfg: TargetRulesInput, ctx: z.RefinementCtx): void {
  for (const i of targetRuleIssues(cfg)) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
}
