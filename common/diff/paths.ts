/**
 * Paths in diff headers, validated as they are read: a path that leaves the
 * work tree, is absolute or points into .git is refused by every reader, not
 * only by the policy check.
 */
import { refuse } from './refusal.js';

/** A relative path inside the work tree, or a refusal. */
export function safePath(p: string): string {
  if (p.startsWith('/')) refuse('absolute_path', `absolute path ${p}`, p);
  if (p.includes('\\') || p.includes('\0'))
    refuse('path_traversal', `unsafe characters in path ${JSON.stringify(p)}`, p);
  const parts = p.split('/');
  if (parts.some((s) => s === '..' || s === '.' || s === ''))
    refuse('path_traversal', `path ${p} leaves the work tree`, p);
  if (parts.some((s) => s.toLowerCase() === '.git')) refuse('path_traversal', `path ${p} is inside .git`, p);
  return p;
}

/** Strips `a/` or `b/` and validates a path from a `---`/`+++` header; null for /dev/null. */
export function headerPath(raw: string, side: 'a' | 'b'): string | null {
  let p = raw.replace(/\t.*$/, '');
  if (p === '/dev/null') return null;
  if (p.startsWith('"')) refuse('malformed', `quoted path ${p} is not supported`);
  if (p.startsWith(`${side}/`)) p = p.slice(2);
  else if (p.startsWith('/')) refuse('absolute_path', `absolute path ${p}`, p);
  return safePath(p);
}

/** Splits `a/X b/Y` of a `diff --git` line, assuming X === Y (anything else is a rename). */
export function gitHeaderPath(rest: string): string {
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
