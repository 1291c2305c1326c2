/**
 * The `target.integrity` section of `arswarm.yaml`: semantic patch checks
 * (what an editable file may not do to the locked evaluation) and output
 * integrity (how far a reported `training_seconds` may be from the measured
 * run). docs/reliability.md describes every rule.
 */
import { z } from 'zod';
import type { IntegrityRules } from './python-check/rules.js';

const regex = z.string().refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, 'must be a valid regular expression');

export const frozenRegionSchema = z
  .object({
    /** Editable file holding the region, e.g. train.py. */
    file: z.string().min(1),
    /** Regex of the region's first line, e.g. the evaluation call. */
    from: regex,
    /** Regex of its last line. @default the end of the file */
    to: regex.optional(),
  })
  .strict();

/** How a reported `training_seconds` is checked: against the measured run and the budget, the budget only, or not. */
export const TRAINING_SECONDS_CHECKS = ['check', 'budget', 'off'] as const;

/** Tolerances of the `training_seconds` check. */
export const DEFAULT_WALL_TOLERANCE_SECONDS = 2;
export const DEFAULT_WALL_TOLERANCE_FRACTION = 0.05;
export const DEFAULT_BUDGET_TOLERANCE_SECONDS = 5;
export const DEFAULT_BUDGET_TOLERANCE_FRACTION = 0.1;

/** Names of locked functions whose return value is the metric. */
export const DEFAULT_EVAL_FUNCTIONS = ['evaluate_bpb', 'evaluate'];

export const integritySchema = z
  .object({
    /** Python (`ast`) checks of changed .py files at intake and on the worker. @default true */
    semantic: z.boolean().default(true),
    /** Locked functions whose return value is the metric: it may not be changed after the call. @default [evaluate_bpb, evaluate] */
    eval_functions: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a Python name'))
      .default(DEFAULT_EVAL_FUNCTIONS),
    /** Names no patch may rebind besides those imported from locked files (found by the checker). @default [] */
    locked_names: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a Python name')).default([]),
    /** Regions of editable files no patch may add to, remove or reorder. @default [] */
    frozen: z.array(frozenRegionSchema).default([]),
    /**
     * `check`: a reported training_seconds must be within the measured run time and the stage budget
     * (each plus its tolerance); `budget`: the budget only (targets that simulate time); `off`.
     * @default check
     */
    training_seconds: z.enum(TRAINING_SECONDS_CHECKS).default('check'),
    /** Seconds a reported training_seconds may exceed the measured run. @default 2 */
    wall_tolerance_seconds: z.number().min(0).max(3600).default(DEFAULT_WALL_TOLERANCE_SECONDS),
    /** Fraction of the measured run it may exceed it by, on top. @default 0.05 */
    wall_tolerance_fraction: z.number().min(0).max(10).default(DEFAULT_WALL_TOLERANCE_FRACTION),
    /** Seconds a reported training_seconds may exceed the stage budget. @default 5 */
    budget_tolerance_seconds: z.number().min(0).max(86_400).default(DEFAULT_BUDGET_TOLERANCE_SECONDS),
    /** Fraction of the budget it may exceed it by, on top. @default 0.1 */
    budget_tolerance_fraction: z.number().min(0).max(10).default(DEFAULT_BUDGET_TOLERANCE_FRACTION),
  })
  .strict();

export type IntegrityConfig = z.infer<typeof integritySchema>;

/** The section with every default, for targets that leave it out. */
export const DEFAULT_INTEGRITY: IntegrityConfig = integritySchema.parse({});

/** The semantic rules of a target (its locked files, metric and integrity section). */
export function integrityRules(t: {
  readonly locked: readonly string[];
  readonly metric: { readonly name: string };
  readonly integrity: IntegrityConfig;
}): IntegrityRules {
  return {
    semantic: t.integrity.semantic,
    lockedFiles: [...t.locked],
    evalFunctions: t.integrity.eval_functions,
    lockedNames: t.integrity.locked_names,
    reportKeys: [t.metric.name, 'training_seconds'],
    frozen: t.integrity.frozen,
  };
}
