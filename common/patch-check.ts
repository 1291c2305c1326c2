/**
 * Checks a candidate's unified diff against the target's rules before anyone
 * applies it. The coordinator checks on submission and the worker checks again
 * before `git apply`: the worker never trusts the wire.
 *
 * The parser follows hunk line counts exactly as `git apply` does, so a removed
 * line that happens to read `--- a/prepare.py` cannot be mistaken for a header.
 */
import picomatch from 'picomatch';
import type { TargetSpec } from '../gen/arswarm/v1/trial_pb.js';
import { ArswarmError, Code } from './errors.js';

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

/** One line of a hunk: context (' '), removed ('-') or added ('+'). */
export interface PatchLine {
  readonly tag: ' ' | '-' | '+';
  readonly text: string;
  /** The line has no newline (a `\\ No newline at end of file` marker followed it). */
  noEol: boolean;
}

export interface PatchHunk {
  readonly oldStart: number;
  readonly oldLines: number;
  readonly newStart: number;
  readonly newLines: number;
  readonly lines: PatchLine[];
}

/** The changes to one file, in diff order. */
export interface PatchSection {
  readonly path: string;
  readonly newFile: boolean;
  readonly deleted: boolean;
  /** New file mode (`100644` or `100755`) when the patch sets one. */
  readonly mode?: string;
  readonly hunks: readonly PatchHunk[];
}

/** A diff that passed every rule. */
export interface CheckedPatch {
  /** Paths changed, in diff order, without duplicates. */
  readonly files: string[];
  /** The parsed changes, ready to apply. */
  readonly sections: PatchSection[];
  /** The diff as text (decoded when bytes were given). */
  readonly text: string;
  readonly bytes: number;
  readonly addedLines: number;
  readonly removedLines: number;
}

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

/** Default size limit when a target sets none. */
export const DEFAULT_MAX_PATCH_BYTES = 65_536;

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ALLOWED_MODES = new Set(['100644', '100755']);

function refuse(reason: PatchRefusal, message: string, field?: string): never {
  throw new ArswarmError(Code.InvalidArgument, message, { reason, field });
}

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

/** Strips `a/` or `b/` and validates a path from a header; null for /dev/null. */
function headerPath(raw: string, side: 'a' | 'b'): string | null {
  let p = raw.replace(/\t.*$/, '');
  if (p === '/dev/null') return null;
  if (p.startsWith('"')) refuse('malformed', `quoted path ${p} is not supported`);
  if (p.startsWith(`${side}/`)) p = p.slice(2);
  else if (p.startsWith('/')) refuse('absolute_path', `absolute path ${p}`, p);
  return safePath(p);
}

function safePath(p: string): string {
  if (p.startsWith('/')) refuse('absolute_path', `absolute path ${p}`, p);
  if (p.includes('\\') || p.includes('\0'))
    refuse('path_traversal', `unsafe characters in path ${JSON.stringify(p)}`, p);
  const parts = p.split('/');
  if (parts.some((s) => s === '..' || s === '.' || s === ''))
    refuse('path_traversal', `path ${p} leaves the work tree`, p);
  if (parts.some((s) => s.toLowerCase() === '.git')) refuse('path_traversal', `path ${p} is inside .git`, p);
  return p;
}

/** Splits `a/X b/Y` of a `diff --git` line, assuming X === Y (anything else is a rename). */
function gitHeaderPath(rest: string): string {
  if (rest.startsWith('"')) refuse('malformed', `quoted path in "diff --git ${rest}" is not supported`);
  const half = (rest.length - 1) / 2;
  const a = rest.slice(0, half);
  const b = rest.slice(half + 1);
  if (!Number.isInteger(half) || rest[half] !== ' ' || !a.startsWith('a/') || !b.startsWith('b/')) {
    refuse('rename', `diff header "diff --git ${rest}" names two different files`);
  }
  if (a.slice(2) !== b.slice(2)) refuse('rename', `diff header renames ${a.slice(2)} to ${b.slice(2)}`);
  return safePath(a.slice(2));
}

interface FileSection {
  path: string | null;
  oldPath: string | null | undefined;
  newPath: string | null | undefined;
  hunks: number;
  hunkList: PatchHunk[];
  newFile: boolean;
  deleted: boolean;
  mode?: string;
}

function section(path: string | null): FileSection {
  return {
    path,
    oldPath: undefined,
    newPath: undefined,
    hunks: 0,
    hunkList: [],
    newFile: false,
    deleted: false,
  };
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

  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const files: string[] = [];
  const sections: PatchSection[] = [];
  let added = 0;
  let removed = 0;
  let cur: FileSection | undefined;

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
    const path = cur.path;
    if (isLocked(path)) refuse('locked_file', `patch touches locked file ${path}`, path);
    if (!isEditable(path)) refuse('not_editable', `${path} is not an editable file`, path);
    if (!files.includes(path)) files.push(path);
    sections.push({
      path,
      newFile: cur.newFile || cur.oldPath === null,
      deleted: cur.deleted || cur.newPath === null,
      mode: cur.mode,
      hunks: cur.hunkList,
    });
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
      (!cur || cur.hunks > 0 || cur.oldPath !== undefined)
    ) {
      // A plain unified diff (no `diff --git` line) starts a new section here.
      finish();
      cur = section(null);
    }
    if (!cur) {
      if (line.trim() === '') continue;
      refuse('malformed', `unexpected line ${i + 1} before the first file header: ${line.slice(0, 80)}`);
    }
    if (line.startsWith('--- ') && cur.hunks === 0) {
      cur.oldPath = headerPath(line.slice(4), 'a');
      continue;
    }
    if (line.startsWith('+++ ') && cur.hunks === 0) {
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
      cur.hunks++;
      let oldLeft = hunk[2] === undefined ? 1 : Number(hunk[2]);
      let newLeft = hunk[4] === undefined ? 1 : Number(hunk[4]);
      const h: PatchHunk = {
        oldStart: Number(hunk[1]),
        oldLines: oldLeft,
        newStart: Number(hunk[3]),
        newLines: newLeft,
        lines: [],
      };
      cur.hunkList.push(h);
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
          if (tag === '-') {
            oldLeft--;
            removed++;
          } else {
            newLeft--;
            added++;
          }
          h.lines.push({ tag, text: content, noEol: false });
          const hit = protectedRes.find((re) => re.test(content));
          if (hit)
            refuse(
              'protected_line',
              `patch changes a protected line in ${cur.path ?? cur.newPath ?? cur.oldPath}: ${content.trim().slice(0, 80)}`,
              cur.path ?? undefined,
            );
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
      continue;
    }
    if (line.startsWith('deleted file') || line.startsWith('new file'))
      refuse('malformed', `bad header: ${line}`);
    refuse('malformed', `unexpected line ${i + 1}: ${line.slice(0, 80)}`);
  }
  finish();
  if (files.length === 0) refuse('empty', 'patch changes no file');
  return { files, sections, text, bytes, addedLines: added, removedLines: removed };
}
