/**
 * Search/replace edits, as a model writes them, turned into whole-file
 * changes. Every mistake is an ArswarmError with a `reason` and a message
 * written for the model to fix it: an edit outside the editable files or on
 * a locked one, a file that does not exist, a search string that matches
 * nothing or more than once.
 */
import picomatch from 'picomatch';
import { ArswarmError, Code, type Reason } from '../../../common/errors.js';
import type { PatchRules } from '../../../common/diff/index.js';
import type { FileChange } from '../../repo.js';

/** One edit: replace the only occurrence of `search` in `file` with `replace`. */
export interface Edit {
  file: string;
  search: string;
  replace: string;
}

function fail(reason: Reason, message: string, field?: string): never {
  throw new ArswarmError(Code.InvalidArgument, message, { reason, field });
}

/** Non-overlapping occurrences of `needle` in `hay`. */
export function occurrences(hay: string, needle: string): number {
  let n = 0;
  for (let i = hay.indexOf(needle); i !== -1; i = hay.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * Applies edits in order (later edits see earlier ones) and returns the
 * changed files. `read` gives a file's content at the head.
 */
export async function applyEdits(
  edits: readonly Edit[],
  rules: Pick<PatchRules, 'editable' | 'locked'>,
  read: (path: string) => Promise<string | undefined>,
): Promise<FileChange[]> {
  const isEditable = picomatch(rules.editable as string[], { dot: true });
  const isLocked = rules.locked.length ? picomatch(rules.locked as string[], { dot: true }) : () => false;
  const files = new Map<string, string>();
  for (const [i, e] of edits.entries()) {
    const where = `edit ${i + 1} (${e.file})`;
    const path = e.file.replace(/^\.\//, '');
    if (isLocked(path))
      fail('locked_file', `${where}: ${path} is locked; only ${rules.editable.join(', ')} may change`, path);
    if (!isEditable(path))
      fail(
        'not_editable',
        `${where}: ${path} is not editable; only ${rules.editable.join(', ')} may change`,
        path,
      );
    let text = files.get(path);
    if (text === undefined) {
      text = await read(path);
      if (text === undefined) fail('not_found', `${where}: ${path} does not exist at the head`, path);
    }
    if (e.search === '') fail('search_not_found', `${where}: the search string is empty`, path);
    const n = occurrences(text, e.search);
    if (n === 0) {
      const loose = occurrences(text.replace(/\s+/g, ' '), e.search.replace(/\s+/g, ' ')) > 0;
      fail(
        'search_not_found',
        `${where}: the search string was not found in ${path}` +
          (loose
            ? ' (it differs in whitespace: copy the exact text, indentation included)'
            : '; copy it exactly from the file as read_file shows it'),
        path,
      );
    }
    if (n > 1)
      fail(
        'search_ambiguous',
        `${where}: the search string occurs ${n} times in ${path}; include more surrounding lines so it matches once`,
        path,
      );
    const at = text.indexOf(e.search);
    files.set(path, text.slice(0, at) + e.replace + text.slice(at + e.search.length));
  }
  return [...files.entries()].map(([path, content]) => ({ path, content }));
}
