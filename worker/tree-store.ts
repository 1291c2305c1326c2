/**
 * Pristine file trees of recent commits, checked out once from the cache repo
 * and copied (reflink where the file system can) into each trial's fresh work
 * dir. Copying a small research repo in-process takes a millisecond or two; a
 * `git worktree add` per trial cost 15-30 ms, most of the start overhead.
 *
 * Work dirs have no `.git`: a run cannot touch the cache repo through it.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from './git-exec.js';

/** Pristine trees kept per worker process. @default 16 */
export const DEFAULT_TREES_KEPT = 16;

export class TreeStore {
  /** sha -> pristine dir, oldest first (Map keeps insertion order). */
  private readonly trees = new Map<string, Promise<string>>();
  private readonly busy = new Map<string, number>();

  constructor(
    private readonly repoDir: string,
    private readonly dir: string,
    private readonly keep = DEFAULT_TREES_KEPT,
  ) {}

  async init(): Promise<void> {
    // Trees of a previous process may be half-written: start clean.
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
  }

  /** Copies the commit's files into `dest` (which must not exist). */
  async materialize(sha: string, dest: string): Promise<void> {
    this.busy.set(sha, (this.busy.get(sha) ?? 0) + 1);
    try {
      const src = await this.tree(sha);
      await cp(src, dest, { recursive: true, verbatimSymlinks: true, mode: constants.COPYFILE_FICLONE });
    } finally {
      const n = (this.busy.get(sha) ?? 1) - 1;
      if (n > 0) this.busy.set(sha, n);
      else this.busy.delete(sha);
    }
  }

  private tree(sha: string): Promise<string> {
    let p = this.trees.get(sha);
    if (p) {
      // Most recently used goes last.
      this.trees.delete(sha);
      this.trees.set(sha, p);
      return p;
    }
    p = this.build(sha);
    p.catch(() => this.trees.delete(sha));
    this.trees.set(sha, p);
    void this.evict();
    return p;
  }

  private async build(sha: string): Promise<string> {
    const final = join(this.dir, sha);
    const tmp = join(this.dir, `.tmp-${sha}-${randomBytes(4).toString('hex')}`);
    const index = `${tmp}.index`;
    await mkdir(tmp, { recursive: true });
    try {
      // A private index: no worktree metadata, no export-ignore/export-subst rewriting (as `git archive` would do).
      // One git process: read the tree into the index and write its files (-u).
      const env = { GIT_INDEX_FILE: index };
      await git(this.repoDir, [`--work-tree=${tmp}`, 'read-tree', '--reset', '-u', sha], undefined, env);
      await rm(final, { recursive: true, force: true });
      await rename(tmp, final);
      return final;
    } finally {
      await rm(index, { force: true });
      await rm(tmp, { recursive: true, force: true });
    }
  }

  private async evict(): Promise<void> {
    for (const sha of this.trees.keys()) {
      if (this.trees.size <= this.keep) return;
      if (this.busy.has(sha)) continue;
      this.trees.delete(sha);
      await rm(join(this.dir, sha), { recursive: true, force: true });
    }
  }
}
