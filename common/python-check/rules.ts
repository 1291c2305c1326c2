/**
 * The semantic rules a patch is checked against, the same at the coordinator's
 * intake and on the worker: which files are locked (their modules' names may
 * not be rebound or mutated), which locked functions compute the metric (their
 * return value may not be changed), the keys of the result block, and the
 * frozen regions no patch may touch.
 */

/** Lines of an editable file that no patch may add to, remove or reorder. */
export interface FrozenRegion {
  /** Path in the target repo, e.g. `train.py`. */
  readonly file: string;
  /** Regex of the region's first line (its first match in the file). */
  readonly from: string;
  /** Regex of the region's last line (first match at or after `from`); absent = end of file. */
  readonly to?: string;
}

export interface IntegrityRules {
  /** Run the Python (`ast`) checks on changed `.py` files. */
  readonly semantic: boolean;
  /** Locked files; a `.py` among them is a locked module (`prepare.py` -> `prepare`). */
  readonly lockedFiles: readonly string[];
  /** Names of locked functions whose return value is the metric (e.g. `evaluate_bpb`). */
  readonly evalFunctions: readonly string[];
  /** Further names no patch may rebind, imported or not. */
  readonly lockedNames: readonly string[];
  /** Keys of the result block (the metric, `training_seconds`): strings printing them are refused. */
  readonly reportKeys: readonly string[];
  readonly frozen: readonly FrozenRegion[];
}

/** Stable ids of the semantic rules (docs/reliability.md describes each). */
export const SEMANTIC_RULES = [
  'locked-name-assign',
  'locked-module-mutation',
  'builtin-override',
  'eval-result-mutation',
  'frozen-region',
  'exit-hook',
  'output-redirect',
  'background-task',
  'early-exit',
  'dynamic-code',
  'result-block-print',
  'library-monkeypatch',
  'locked-file-access',
  'syntax-error',
] as const;

export type SemanticRule = (typeof SEMANTIC_RULES)[number];

/** One broken rule at one line. */
export interface Violation {
  readonly rule: SemanticRule;
  readonly file: string;
  /** 1-based line in the patched file (0 when the whole file is meant). */
  readonly line: number;
  readonly message: string;
}

/** `train.py:214: rule locked-name-assign: assignment to TIME_BUDGET imported from locked prepare.py` */
export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}: rule ${v.rule}: ${v.message}`;
}
