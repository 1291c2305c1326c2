/**
 * Per-trial constant overrides: rewrites a module-level `NAME = ...` assignment
 * in an editable file (for targets such as karpathy/autoresearch that read no
 * environment variables), before the integrity hashes are taken.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { ConstantOverride } from '../gen/arswarm/v1/trial_pb.js';
import { ArswarmError, Code } from '../common/errors.js';

const LITERAL =
  /^[-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?$|^[-+]?\.[0-9]+$|^(True|False|None)$|^"[^"\\\n]*"$|^'[^'\\\n]*'$/;

/**
 * Replaces the value of the first module-level (unindented) `NAME = value`
 * or `NAME: type = value` assignment, keeping a trailing comment.
 */
export function overrideConstant(source: string, name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new ArswarmError(Code.InvalidArgument, `bad constant name ${name}`);
  // Only literals: an override sets a constant, it never injects code.
  if (!LITERAL.test(value)) {
    throw new ArswarmError(
      Code.InvalidArgument,
      `override value for ${name} is not a literal: ${JSON.stringify(value)}`,
      {
        reason: 'override_value',
        field: name,
      },
    );
  }
  const re = new RegExp(`^(${name}\\s*(?::[^=\\n]*)?=\\s*)([^#\\n]*?)(\\s*(?:#.*)?)$`, 'm');
  if (!re.test(source)) {
    throw new ArswarmError(Code.InvalidArgument, `no module-level assignment ${name} = ... to override`, {
      reason: 'override_missing',
      field: name,
    });
  }
  return source.replace(re, (_m, head: string, _old: string, tail: string) => `${head}${value}${tail}`);
}

/** Applies overrides in the work dir; returns the files it rewrote. */
export async function applyOverrides(dir: string, overrides: readonly ConstantOverride[]): Promise<string[]> {
  const byFile = new Map<string, ConstantOverride[]>();
  for (const o of overrides) byFile.set(o.file, [...(byFile.get(o.file) ?? []), o]);
  for (const [file, list] of byFile) {
    const path = `${dir}/${file}`;
    let text = await readFile(path, 'utf8');
    for (const o of list) text = overrideConstant(text, o.name, o.value);
    await writeFile(path, text);
  }
  return [...byFile.keys()];
}
