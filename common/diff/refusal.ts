/**
 * Why a diff is refused. Every role refuses with the same reason and message
 * for the same flaw, so a refusal at intake reads like one at the worker.
 */
import { ArswarmError, Code } from '../errors.js';

/** Reasons a patch is refused (the `reason` of the thrown ArswarmError). */
export type PatchRefusal =
  | 'empty'
  | 'too_large'
  | 'invalid_utf8'
  | 'malformed'
  | 'binary'
  | 'rename'
  | 'symlink'
  | 'absolute_path'
  | 'path_traversal'
  | 'locked_file'
  | 'not_editable'
  | 'protected_line';

/** Throws ArswarmError(InvalidArgument) with `reason`. */
export function refuse(reason: PatchRefusal, message: string, field?: string): never {
  throw new ArswarmError(Code.InvalidArgument, message, { reason, field });
}
