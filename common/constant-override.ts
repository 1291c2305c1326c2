/**
 * Rewriting module-level `NAME = value` constants of a Python file: the one
 * function both sides use, so the coordinator can hash a locked file as the
 * worker will see it after a stage's overrides (the hashes then match byte
 * for byte), and so config checks and trials agree on what "has a constant"
 * means.
 */
import { ArswarmError, Code } from './errors.js';

/** Python literals an override may set: numbers, True/False/None, simple strings. */
const LITERAL =
  /^[-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?$|^[-+]?\.[0-9]+$|^(True|False|None)$|^"[^"\\\n]*"$|^'[^'\\\n]*'$/;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One constant to set in one file. */
export interface ConstantSetting {
  readonly file: string;
  readonly name: string;
  readonly value: string;
}

/** True when `value` is a literal an override may write (never code). */
export function isConstantLiteral(value: string): boolean {
  return LITERAL.test(value);
}

function assignment(name: string): RegExp {
  if (!NAME.test(name)) throw new ArswarmError(Code.InvalidArgument, `bad constant name ${name}`);
  return new RegExp(`^(${name}\\s*(?::[^=\\n]*)?=\\s*)([^#\\n]*?)(\\s*(?:#.*)?)$`, 'm');
}

/** True when the source has a module-level (unindented) `NAME = ...` or `NAME: type = ...` assignment. */
export function hasModuleConstant(source: string, name: string): boolean {
  return assignment(name).test(source);
}

/**
 * Replaces the value of the first module-level (unindented) `NAME = value`
 * or `NAME: type = value` assignment, keeping a trailing comment.
 */
export function overrideConstant(source: string, name: string, value: string): string {
  const re = assignment(name);
  // Only literals: an override sets a constant, it never injects code.
  if (!isConstantLiteral(value)) {
    throw new ArswarmError(
      Code.InvalidArgument,
      `override value for ${name} is not a literal: ${JSON.stringify(value)}`,
      {
        reason: 'override_value',
        field: name,
      },
    );
  }
  if (!re.test(source)) {
    throw new ArswarmError(Code.InvalidArgument, `no module-level assignment ${name} = ... to override`, {
      reason: 'override_missing',
      field: name,
    });
  }
  return source.replace(re, (_m, head: string, _old: string, tail: string) => `${head}${value}${tail}`);
}

/** Applies, in order, every setting of `file` to its source text. */
export function overrideFile(source: string, file: string, settings: readonly ConstantSetting[]): string {
  let text = source;
  for (const s of settings) if (s.file === file) text = overrideConstant(text, s.name, s.value);
  return text;
}

/** The settings grouped by file, in first-seen order. */
export function settingsByFile(settings: readonly ConstantSetting[]): Map<string, ConstantSetting[]> {
  const byFile = new Map<string, ConstantSetting[]>();
  for (const s of settings) byFile.set(s.file, [...(byFile.get(s.file) ?? []), s]);
  return byFile;
}
