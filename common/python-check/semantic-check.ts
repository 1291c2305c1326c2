/**
 * The semantic patch check: frozen regions (text) and the Python `ast` rules
 * of checker.py (one long-lived python3), on a patched file compared with its
 * unpatched version. The coordinator runs it at intake, before a GPU slot is
 * spent; the worker runs it again on its patched work tree before the run.
 *
 * A checker that cannot answer (no python3, a crash, a timeout) never passes
 * a patch: check() throws FailedPrecondition (reason `checker_unavailable`) and the
 * caller refuses (intake) or fails the trial as infra (worker).
 */
import { fileURLToPath } from 'node:url';
import { ArswarmError, Code } from '../errors.js';
import { checkFrozenRegion } from './frozen-region.js';
import { PythonServer, type PythonServerOptions } from './python-server.js';
import { formatViolation, type IntegrityRules, type SemanticRule, type Violation } from './rules.js';

/** The checker program, shipped beside this file. */
export const CHECKER_PATH = fileURLToPath(new URL('./checker.py', import.meta.url));

/** One file of a patch: its text at the parent and after the patch. */
export interface PatchedFile {
  readonly path: string;
  /** Absent for a new file. */
  readonly before?: string;
  /** Absent for a deleted file. */
  readonly after?: string;
}

/** Violations listed in one refusal; the rest are counted. */
const LISTED = 5;

interface CheckerAnswer {
  ok: boolean;
  error?: string;
  violations?: { rule: SemanticRule; line: number; message: string }[];
}

export class SemanticChecker {
  private readonly server: PythonServer;

  constructor(o: PythonServerOptions = {}) {
    this.server = new PythonServer([CHECKER_PATH], o);
  }

  /** Every rule the patch breaks, in file and line order; throws FailedPrecondition when the checker cannot answer. */
  async violations(files: readonly PatchedFile[], rules: IntegrityRules): Promise<Violation[]> {
    const out: Violation[] = [];
    for (const f of files) {
      const mine: Violation[] = [];
      for (const region of rules.frozen) {
        if (region.file !== f.path || f.before === undefined) continue;
        const v = checkFrozenRegion(region, f.before, f.after);
        if (v) mine.push(v);
      }
      if (rules.semantic && f.path.endsWith('.py') && f.after !== undefined)
        mine.push(...(await this.pythonViolations(f.path, f.before, f.after, rules)));
      // Line order within a file (a frozen-region hit first at its line: the stable sort keeps it there).
      out.push(...mine.sort((a, b) => a.line - b.line));
    }
    return out;
  }

  private async pythonViolations(
    path: string,
    before: string | undefined,
    after: string,
    rules: IntegrityRules,
  ): Promise<Violation[]> {
    const a = await this.server.request<CheckerAnswer>({
      op: 'semantic',
      path,
      source: after,
      before: before ?? null,
      locked_files: rules.lockedFiles,
      eval_functions: rules.evalFunctions,
      locked_names: rules.lockedNames,
      report_keys: rules.reportKeys,
    });
    if (a.kind === 'unavailable' || !a.value.ok)
      throw new ArswarmError(
        Code.FailedPrecondition,
        `the semantic check of ${path} could not run (${a.kind === 'unavailable' ? a.why : a.value.error}); the patch is not accepted unchecked`,
        { reason: 'checker_unavailable', field: path, retryable: true },
      );
    return (a.value.violations ?? []).map((v) => ({ ...v, file: path }));
  }

  /**
   * Throws ArswarmError(InvalidArgument) whose reason is the first broken
   * rule's id and whose message names each rule, file and line; or
   * FailedPrecondition (retryable) when the checker cannot answer.
   */
  async check(files: readonly PatchedFile[], rules: IntegrityRules): Promise<void> {
    const found = await this.violations(files, rules);
    const first = found[0];
    if (!first) return;
    const listed = found.slice(0, LISTED).map(formatViolation);
    if (found.length > LISTED) listed.push(`(and ${found.length - LISTED} more)`);
    throw new ArswarmError(Code.InvalidArgument, listed.join('\n'), {
      reason: first.rule,
      field: first.file,
    });
  }

  /** Stops the python process. */
  close(): void {
    this.server.close();
  }
}

/** Whether any check would run on these paths (so a caller can skip reading files). */
export function wantsCheck(paths: readonly string[], rules: IntegrityRules): boolean {
  return paths.some((p) => (rules.semantic && p.endsWith('.py')) || rules.frozen.some((r) => r.file === p));
}
