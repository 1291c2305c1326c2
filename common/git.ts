/** Small git helpers shared by coordinator and tests (simple-git over system git). */
import { createHash } from 'node:crypto';
import { simpleGit, type SimpleGit } from 'simple-git';

/** Identity used for commits arswarm makes. */
export const GIT_IDENTITY = { name: 'arswarm', email: 'arswarm@localhost' };

/** A simple-git instance with a fixed identity and no surprises from the caller's environment. */
export function git(dir: string): SimpleGit {
  // A minimal environment (simple-git's guard refuses several inherited git
  // variables) and the identity as config, not as environment.
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'USER'];
  const env = Object.fromEntries(keep.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
  return simpleGit({
    baseDir: dir,
    maxConcurrentProcesses: 4,
    config: [
      `user.name=${GIT_IDENTITY.name}`,
      `user.email=${GIT_IDENTITY.email}`,
      'advice.detachedHead=false',
    ],
  }).env(env);
}

/** sha256 hex of a buffer or string. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** First 7 characters of a commit, as autoresearch's results.tsv shows it. */
export function short(commit: string): string {
  return commit.slice(0, 7);
}
