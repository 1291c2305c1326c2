/**
 * Per-trial constant overrides: rewrites module-level `NAME = ...` assignments
 * in the work copy (for targets such as karpathy/autoresearch that read no
 * environment variables), before the integrity hashes are taken. The rewrite
 * itself lives in common/, where the coordinator uses it to hash a locked
 * file as it will look after a stage's overrides.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { overrideFile, settingsByFile } from '../common/constant-override.js';
import type { ConstantOverride } from '../gen/arswarm/v1/trial_pb.js';

export { overrideConstant } from '../common/constant-override.js';

/** Applies overrides in the work dir; returns the files it rewrote. */
export async function applyOverrides(dir: string, overrides: readonly ConstantOverride[]): Promise<string[]> {
  const byFile = settingsByFile(overrides);
  for (const [file, list] of byFile) {
    const path = `${dir}/${file}`;
    // Read and written as UTF-8 text, exactly as the coordinator encodes the text it hashes.
    await writeFile(path, overrideFile(await readFile(path, 'utf8'), file, list));
  }
  return [...byFile.keys()];
}
