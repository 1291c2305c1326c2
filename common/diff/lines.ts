/**
 * A file as lines, each knowing whether a newline ends it, so that `x` and
 * `x\n` never compare equal and a missing final newline survives a patch.
 */

/** One line of a file, without its newline. */
export interface Line {
  readonly text: string;
  /** The line has no newline (it is the last line of a file that lacks one). */
  readonly noEol: boolean;
}

/** The lines of a text ('' has none). Only `\n` ends a line: a `\r` stays in the text, as git keeps it. */
export function toLines(text: string): Line[] {
  if (text === '') return [];
  const eol = text.endsWith('\n');
  const parts = (eol ? text.slice(0, -1) : text).split('\n');
  return parts.map((t, i) => ({ text: t, noEol: !eol && i === parts.length - 1 }));
}

/** The text of lines (the inverse of toLines). */
export function fromLines(lines: readonly Line[]): string {
  return lines.map((l) => (l.noEol ? l.text : `${l.text}\n`)).join('');
}

export const sameLine = (a: Line, b: Line): boolean => a.text === b.text && a.noEol === b.noEol;
