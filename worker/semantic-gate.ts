/**
 * The worker's own semantic check of a patch, on its patched work tree, right
 * before the run: the same checker and rules as the coordinator's intake, so a
 * trial that reached the queue some other way (or through an older intake)
 * still cannot run a patch that changes what the locked evaluation measured.
 *
 * A broken rule fails the trial as INTEGRITY. A checker that cannot run (no
 * python3 on this worker, a crash, a timeout) fails it as INFRA: the patch is
 * never run unchecked, and the candidate is not blamed for this worker's
 * missing python; the coordinator retries it elsewhere and, after its attempts,
 * records it as crashed with the infra reason.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArswarmError, Code } from '../common/errors.js';
import { rulesOfSpec } from '../common/integrity-spec.js';
import { SemanticChecker, wantsCheck, type PatchedFile } from '../common/python-check/index.js';
import { TrialStatus, type TargetSpec } from '../gen/arswarm/v1/trial_pb.js';
import { checkKey, PassMemo } from './check-memo.js';

let shared: SemanticChecker | undefined;
let passes: PassMemo | undefined;

/** This process's checker (one python3 for every loop of a worker), started on first use. */
export function workerChecker(): SemanticChecker {
  return (shared ??= new SemanticChecker());
}

/** This process's memo of passed checks (check-memo.ts): a replicate of a checked patch skips python. */
export function workerPassMemo(): PassMemo {
  return (passes ??= new PassMemo());
}

async function readText(dir: string, path: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, path), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The files a patch changes, as the parent has them (read before the patch is applied); empty when nothing is checked. */
export async function originals(
  workDir: string,
  spec: TargetSpec,
  paths: readonly string[],
): Promise<Map<string, string | undefined>> {
  const rules = rulesOfSpec(spec);
  const out = new Map<string, string | undefined>();
  if (!rules || !wantsCheck(paths, rules)) return out;
  for (const p of paths) out.set(p, await readText(workDir, p));
  return out;
}

/** Why the patched tree may not run (status and reason), or undefined when it may. */
export async function semanticGate(
  workDir: string,
  spec: TargetSpec,
  before: ReadonlyMap<string, string | undefined>,
  checker: SemanticChecker = workerChecker(),
  memo: PassMemo = workerPassMemo(),
): Promise<{ status: TrialStatus; reason: string } | undefined> {
  const rules = rulesOfSpec(spec);
  if (!rules || before.size === 0) return undefined;
  const files: PatchedFile[] = [];
  for (const [path, text] of before) files.push({ path, before: text, after: await readText(workDir, path) });
  const key = checkKey(files, rules, spec.lockedSha256);
  if (memo.has(key)) return undefined;
  try {
    await checker.check(files, rules);
    memo.add(key);
    return undefined;
  } catch (err) {
    const e = ArswarmError.from(err);
    if (e.code === Code.InvalidArgument)
      return { status: TrialStatus.INTEGRITY, reason: `patch refused by the semantic check: ${e.message}` };
    return { status: TrialStatus.INFRA, reason: e.message };
  }
}
