/**
 * Checks a candidate's unified diff against the target's rules before anyone
 * applies it. The coordinator checks on submission and the worker checks again
 * before applying: the worker never trusts the wire.
 */
import picomatch from 'picomatch';
import type { TargetSpec } from '../../gen/arswarm/v1/trial_pb.js';
import { parseDiff, type FileDiff } from './parse.js';
import { refuse } from './refusal.js';

/** What a patch may touch. */
export interface PatchRules {
  /** Globs of files a patch may change. */
  readonly editable: readonly string[];
  /** Globs (usually plain paths) no patch may change, even when also editable. */
  readonly locked: readonly string[];
  /** Regexes of lines no patch may remove or add. */
  readonly protected: readonly string[];
  /** Largest accepted diff in bytes (UTF-8). */
  readonly maxPatchBytes: number;
}

/** A diff that passed every rule. */
export interface CheckedPatch {
  /** Paths changed, in diff order, without duplicates. */
  readonly files: string[];
  /** The parsed changes, ready to apply. */
  readonly sections: FileDiff[];
  /** The diff as text (decoded when bytes were given). */
  readonly text: string;
  readonly bytes: number;
  readonly addedLines: number;
  readonly removedLines: number;
}

/** Default size limit when a target sets none. */
export const DEFAULT_MAX_PATCH_BYTES = 65_536;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The rules a target spec carries. */
export function targetSpecRules(spec: TargetSpec): PatchRules {
  return {
    editable: spec.editable,
    locked: [...spec.locked, ...Object.keys(spec.lockedSha256)],
    protected: spec.protected,
    maxPatchBytes: Number(spec.maxPatchBytes) || DEFAULT_MAX_PATCH_BYTES,
  };
}

function decodeDiff(diff: string | Uint8Array): { text: string; bytes: number } {
  if (typeof diff === 'string') {
    const bytes = Buffer.byteLength(diff, 'utf8');
    // A JS string may hold lone surrogates, which are not valid UTF-8 either.
    if (LONE_SURROGATE.test(diff)) refuse('invalid_utf8', 'patch is not valid UTF-8');
    return { text: diff, bytes };
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(diff), bytes: diff.byteLength };
  } catch {
    refuse('invalid_utf8', 'patch is not valid UTF-8');
  }
}

/**
 * Validates a unified diff (as `git diff` writes it) against the rules and
 * returns the files it changes. Throws ArswarmError(InvalidArgument) with a
 * `reason` from {@link PatchRefusal} on the first violation.
 */
export function checkPatch(diff: string | Uint8Array, rules: PatchRules): CheckedPatch {
  const { text, bytes } = decodeDiff(diff);
  if (text.trim() === '') refuse('empty', 'patch is empty');
  if (bytes > rules.maxPatchBytes)
    refuse('too_large', `patch is ${bytes} bytes (limit ${rules.maxPatchBytes})`);
  if (text.includes('\0')) refuse('binary', 'patch contains NUL bytes');
  const isEditable = picomatch(rules.editable as string[], { dot: true });
  const isLocked = rules.locked.length ? picomatch(rules.locked as string[], { dot: true }) : () => false;
  const protectedRes = rules.protected.map((r) => new RegExp(r));

  const files: string[] = [];
  const sections = parseDiff(text, {
    file: ({ path }) => {
      if (isLocked(path)) refuse('locked_file', `patch touches locked file ${path}`, path);
      if (!isEditable(path)) refuse('not_editable', `${path} is not an editable file`, path);
      if (!files.includes(path)) files.push(path);
    },
    change: ({ text: content }, name, path) => {
      if (protectedRes.some((re) => re.test(content)))
        refuse(
          'protected_line',
          `patch changes a protected line in ${name}: ${content.trim().slice(0, 80)}`,
          path,
        );
    },
  });
  if (files.length === 0) refuse('empty', 'patch changes no file');
  let addedLines = 0;
  let removedLines = 0;
  for (const l of sections.flatMap((s) => s.hunks).flatMap((h) => h.lines)) {
    if (l.tag === '+') addedLines++;
    if (l.tag === '-') removedLines++;
  }
  return { files, sections, text, bytes, addedLines, removedLines };
}
