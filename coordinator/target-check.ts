/**
 * Checks of the config against the target's content, made when the
 * coordinator starts and the repo is open: a `target.constants` entry whose
 * file lacks the module-level assignment, or a setup input that is not in the
 * target, would otherwise fail every trial one by one (as integrity or infra)
 * instead of once, at start, with the field named.
 */
import type { Config } from '../common/config.js';
import { hasModuleConstant } from '../common/constant-override.js';
import { ArswarmError, Code } from '../common/errors.js';
import { short } from '../common/git.js';
import type { TargetRepo } from './repo.js';

/** Throws FailedPrecondition naming the first field the target at `commit` cannot satisfy. */
export async function checkTargetContent(
  config: Config,
  repo: Pick<TargetRepo, 'readFile'>,
  commit: string,
): Promise<void> {
  const t = config.target;
  const at = short(commit);
  const fail = (field: string, what: string) =>
    new ArswarmError(Code.FailedPrecondition, `${field}: ${what}`, {
      field,
      reason: 'target_mismatch',
      hint: 'fix arswarm.yaml or the target, then start again',
    });
  for (const [name, file] of Object.entries(t.constants)) {
    const field = `target.constants.${name}`;
    const text = await repo.readFile(commit, file);
    if (text === undefined) throw fail(field, `${file} is not in the target at ${at}`);
    if (!hasModuleConstant(text, name))
      throw fail(field, `${file} has no module-level ${name} = ... assignment at ${at}`);
  }
  for (const [i, input] of (t.setup?.inputs ?? []).entries()) {
    if ((await repo.readFile(commit, input)) === undefined)
      throw fail(`target.setup.inputs[${i}]`, `${input} is not in the target at ${at}`);
  }
}
