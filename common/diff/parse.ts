/**
 * The one unified-diff parser (the layout `git diff` writes). It follows hunk
 * line counts exactly as `git apply` does, so a removed line that happens to
 * read `--- a/prepare.py` cannot be mistaken for a header, and it refuses
 * what no role applies (binary patches, renames, symlinks, unsafe paths,
 * unknown lines) with the reasons of {@link PatchRefusal}.
 */
import type { Line } from './lines.js';
import { gitHeaderPath, headerPath } from './paths.js';
import { refuse } from './refusal.js';

/** One line of a hunk: context (' '), removed ('-') or added ('+'). */
export interface DiffLine extends Line {
  readonly tag: ' ' | '-' | '+';
  /** The line has no newline (a `\\ No newline at end of file` marker followed it). */
  noEol: boolean;
}

export interface Hunk {
  readonly oldStart: number;
  readonly oldLines: number;
  readonly newStart: number;
  readonly newLines: number;
  readonly lines: DiffLine[];
}

/** The changes to one file, in diff order. */
export interface FileDiff {
  readonly path: string;
  readonly newFile: boolean;
  readonly deleted: boolean;
  /** New file mode (`100644` or `100755`) when the patch sets one. */
  readonly mode?: string;
  readonly hunks: readonly Hunk[];
}

/**
 * Called while parsing, so that a policy (check.ts) refuses at the first
 * violation in diff order, exactly where the parser reads it.
 */
export interface ParseVisitor {
  /** A file section is complete, before it joins the result. */
  file?(f: FileDiff): void;
  /**
   * An added or removed line as soon as it is read. `name` is the best path
   * known yet (a plain diff's path is settled only at its end); `path` the
   * one a `diff --git` line named, if any.
   */
  change?(line: DiffLine, name: string | null | undefined, path: string | undefined): void;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
const ALLOWED_MODES = new Set(['100644', '100755']);

interface Section {
  path: string | null;
  oldPath: string | null | undefined;
  newPath: string | null | undefined;
  hunks: Hunk[];
  newFile: boolean;
  deleted: boolean;
  mode?: string;
}

function section(path: string | null): Section {
  return { path, oldPath: undefined, newPath: undefined, hunks: [], newFile: false, deleted: false };
}

/** The file sections of a unified diff, in order; throws ArswarmError(InvalidArgument) with a PatchRefusal reason. */
export function parseDiff(text: string, visit: ParseVisitor = {}): FileDiff[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: FileDiff[] = [];
  let cur: Section | undefined;

  const finish = () => {
    if (!cur) return;
    if (cur.oldPath !== undefined || cur.newPath !== undefined) {
      const o = cur.oldPath ?? null;
      const n = cur.newPath ?? null;
      if (o !== null && n !== null && o !== n) refuse('rename', `patch renames ${o} to ${n}`, o);
      const p = n ?? o;
      if (p === null) refuse('malformed', 'file header has /dev/null on both sides');
      if (cur.path !== null && cur.path !== p) refuse('rename', `headers disagree: ${cur.path} vs ${p}`, p);
      cur.path = p;
    }
    if (cur.path === null) refuse('malformed', 'file section without a path');
    const f: FileDiff = {
      path: cur.path,
      newFile: cur.newFile || cur.oldPath === null,
      deleted: cur.deleted || cur.newPath === null,
      mode: cur.mode,
      hunks: cur.hunks,
    };
    visit.file?.(f);
    out.push(f);
    cur = undefined;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('diff --git ')) {
      finish();
      cur = section(gitHeaderPath(line.slice('diff --git '.length)));
      continue;
    }
    if (
      line.startsWith('--- ') &&
      lines[i + 1]?.startsWith('+++ ') &&
      (!cur || cur.hunks.length > 0 || cur.oldPath !== undefined)
    ) {
      // A plain unified diff (no `diff --git` line) starts a new section here.
      finish();
      cur = section(null);
    }
    if (!cur) {
      if (line.trim() === '') continue;
      refuse('malformed', `unexpected line ${i + 1} before the first file header: ${line.slice(0, 80)}`);
    }
    if (line.startsWith('--- ') && cur.hunks.length === 0) {
      cur.oldPath = headerPath(line.slice(4), 'a');
      continue;
    }
    if (line.startsWith('+++ ') && cur.hunks.length === 0) {
      if (cur.oldPath === undefined) refuse('malformed', `+++ without --- at line ${i + 1}`);
      cur.newPath = headerPath(line.slice(4), 'b');
      continue;
    }
    if (line.startsWith('Binary files ') || line === 'GIT binary patch')
      refuse('binary', 'binary patches are refused');
    if (/^(rename|copy) (from|to) /.test(line) || line.startsWith('similarity index ')) {
      refuse('rename', `renames and copies are refused (${line})`);
    }
    const mode = /^(?:new file mode|deleted file mode|old mode|new mode) (\d+)$/.exec(line);
    if (mode) {
      if (mode[1] === '120000') refuse('symlink', 'symlinks are refused', cur.path ?? undefined);
      if (!ALLOWED_MODES.has(mode[1]!)) refuse('malformed', `unsupported file mode ${mode[1]}`);
      if (line.startsWith('new file')) cur.newFile = true;
      if (line.startsWith('deleted file')) cur.deleted = true;
      if (line.startsWith('new ')) cur.mode = mode[1];
      continue;
    }
    const index = /^index [0-9a-f]+\.\.[0-9a-f]+(?: (\d+))?$/.exec(line);
    if (index) {
      if (index[1] === '120000') refuse('symlink', 'symlinks are refused', cur.path ?? undefined);
      if (index[1] !== undefined && !ALLOWED_MODES.has(index[1]))
        refuse('malformed', `unsupported file mode ${index[1]}`);
      continue;
    }
    const hunk = HUNK.exec(line);
    if (hunk) {
      if (cur.oldPath === undefined) refuse('malformed', `hunk without ---/+++ headers at line ${i + 1}`);
      i = readHunk(lines, i, hunk, cur, visit);
      continue;
    }
    if (line.startsWith('deleted file') || line.startsWith('new file'))
      refuse('malformed', `bad header: ${line}`);
    refuse('malformed', `unexpected line ${i + 1}: ${line.slice(0, 80)}`);
  }
  finish();
  return out;
}

/** Reads the body of the hunk whose header is line `i`; returns the index of its last line. */
function readHunk(
  lines: readonly string[],
  i: number,
  header: RegExpExecArray,
  cur: Section,
  visit: ParseVisitor,
): number {
  let oldLeft = header[2] === undefined ? 1 : Number(header[2]);
  let newLeft = header[4] === undefined ? 1 : Number(header[4]);
  const h: Hunk = {
    oldStart: Number(header[1]),
    oldLines: oldLeft,
    newStart: Number(header[3]),
    newLines: newLeft,
    lines: [],
  };
  cur.hunks.push(h);
  while (oldLeft > 0 || newLeft > 0) {
    i++;
    const body = lines[i];
    if (body === undefined) refuse('malformed', 'patch ends inside a hunk');
    const tag = body[0];
    const content = body.slice(1);
    if (tag === ' ' || body === '') {
      oldLeft--;
      newLeft--;
      h.lines.push({ tag: ' ', text: content, noEol: false });
    } else if (tag === '-' || tag === '+') {
      if (tag === '-') oldLeft--;
      else newLeft--;
      const l: DiffLine = { tag, text: content, noEol: false };
      h.lines.push(l);
      visit.change?.(l, cur.path ?? cur.newPath ?? cur.oldPath, cur.path ?? undefined);
    } else if (tag === '\\') {
      const last = h.lines.at(-1);
      if (last) last.noEol = true;
      continue;
    } else {
      refuse('malformed', `bad hunk line ${i + 1}: ${body.slice(0, 80)}`);
    }
    if (oldLeft < 0 || newLeft < 0)
      refuse('malformed', `hunk at line ${i + 1} is longer than its header says`);
  }
  while (lines[i + 1]?.startsWith('\\')) {
    i++;
    const last = h.lines.at(-1);
    if (last) last.noEol = true;
  }
  return i;
}
