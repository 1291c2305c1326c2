/**
 * The coordinator's own copy of the target repo: the shared branch, file reads
 * at any commit, diffs, patch application, 3-way rebase and compare-and-swap
 * branch moves. One scratch worktree, used under a lock.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import picomatch from 'picomatch';
import type { SimpleGit } from 'simple-git';
import { ArswarmError, Code } from '../common/errors.js';
import { git, sha256 } from '../common/git.js';
import { Mutex } from './mutex.js';

export interface RepoOptions {
  /** Where the target's files or git repo live. */
  sourceDir: string;
  /** The coordinator's state dir; the repo goes in `<stateDir>/repo`. */
  stateDir: string;
  /** Shared branch name. */
  branch: string;
  /** Ref of the source the branch starts from. */
  base: string;
  /**
   * Absolute paths a plain folder's import leaves out (the swarm's config,
   * its state dir, credential files), besides `arswarm.yaml` at its root:
   * the import becomes the shared branch, which every trial checks out.
   * @default []
   */
  exclude?: readonly string[];
}

/** Swarm files that sit in a target folder by convention but are not the target's (they may hold tokens). */
const SWARM_FILES = /^arswarm\.ya?ml$/;

/** A file change for makeDiff. */
export interface FileChange {
  path: string;
  content: string;
}

export class TargetRepo {
  readonly dir: string;
  readonly scratch: string;
  readonly branch: string;
  private readonly g: SimpleGit;
  private readonly lock = new Mutex();

  private constructor(dir: string, scratch: string, branch: string) {
    this.dir = dir;
    this.scratch = scratch;
    this.branch = branch;
    this.g = git(dir);
  }

  /** Attaches to an existing repo for reading (audits); no scratch worktree is made. */
  static attach(repoDir: string, branch: string): TargetRepo {
    if (!existsSync(join(repoDir, 'HEAD')))
      throw new ArswarmError(Code.NotFound, `no git repo at ${repoDir}`);
    return new TargetRepo(repoDir, join(repoDir, '..', 'scratch'), branch);
  }

  /** Opens the repo, creating it (and the shared branch) on first use. */
  static async open(options: RepoOptions): Promise<TargetRepo> {
    const dir = join(options.stateDir, 'repo');
    const scratch = join(options.stateDir, 'scratch');
    mkdirSync(options.stateDir, { recursive: true });
    if (!existsSync(join(dir, 'HEAD'))) await TargetRepo.create(options, dir);
    const repo = new TargetRepo(dir, scratch, options.branch);
    const branches = await repo.g.raw(['branch', '--list', options.branch]);
    if (!branches.trim()) {
      const base = await repo.resolveBase(options.base);
      await repo.g.raw(['branch', options.branch, base]);
    }
    rmSync(scratch, { recursive: true, force: true });
    await repo.g.raw(['worktree', 'prune']);
    await repo.g.raw(['worktree', 'add', '--detach', scratch, options.branch]);
    return repo;
  }

  private static async create(options: RepoOptions, dir: string): Promise<void> {
    const src = options.sourceDir;
    if (!existsSync(src))
      throw new ArswarmError(Code.NotFound, `target repo ${src} does not exist`, { field: 'target.repo' });
    if (existsSync(join(src, '.git'))) {
      await git(options.stateDir).raw(['clone', '--bare', '--no-local', src, dir]);
      return;
    }
    // A plain folder (the bundled examples): import its files as the first commit.
    const tmp = mkdtempSync(join(tmpdir(), 'arswarm-import-'));
    const exclude = new Set((options.exclude ?? []).map((p) => resolve(p)));
    cpSync(src, tmp, {
      recursive: true,
      filter: (p) => {
        const rel = relative(src, p);
        return (
          !/(^|\/)(\.arswarm|__pycache__|node_modules|results\.tsv)(\/|$)/.test(rel) &&
          !SWARM_FILES.test(rel) &&
          !exclude.has(resolve(p))
        );
      },
    });
    const g = git(tmp);
    await g.raw(['init', '-q', '-b', 'main']);
    await g.raw(['add', '-A']);
    await g.raw(['commit', '-q', '-m', `arswarm: import ${basename(src)}`]);
    await git(options.stateDir).raw(['clone', '--bare', '-q', tmp, dir]);
    rmSync(tmp, { recursive: true, force: true });
  }

  private async resolveBase(base: string): Promise<string> {
    try {
      return (await this.g.revparse([`${base}^{commit}`])).trim();
    } catch (err) {
      throw new ArswarmError(
        Code.InvalidArgument,
        `target.base "${base}" is not a commit in the target repo`,
        {
          field: 'target.base',
          cause: err,
        },
      );
    }
  }

  /** The shared branch's head commit. */
  async head(): Promise<string> {
    return (await this.g.revparse([`refs/heads/${this.branch}`])).trim();
  }

  /** True when `commit` exists in the repo. */
  async hasCommit(commit: string): Promise<boolean> {
    try {
      await this.g.raw(['cat-file', '-e', `${commit}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  }

  /** Paths of all files at a commit. */
  async files(commit: string): Promise<string[]> {
    const out = await this.g.raw(['ls-tree', '-r', '--name-only', commit]);
    return out.split('\n').filter(Boolean);
  }

  /** A file's content at a commit (undefined when absent). */
  async readFile(commit: string, path: string): Promise<string | undefined> {
    try {
      return await this.g.show([`${commit}:${path}`]);
    } catch {
      return undefined;
    }
  }

  /** A file's bytes at a commit; rejects when it is absent. */
  async readBytes(commit: string, path: string): Promise<Buffer> {
    return this.g.binaryCatFile(['blob', `${commit}:${path}`]);
  }

  /** Files at a commit matching any of the globs. */
  async matching(commit: string, globs: readonly string[]): Promise<string[]> {
    const isMatch = picomatch(globs as string[], { dot: true });
    return (await this.files(commit)).filter((f) => isMatch(f));
  }

  /** sha256 of every locked file at a commit; a locked entry that matches nothing is an error. */
  async lockedHashes(commit: string, locked: readonly string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const files = await this.files(commit);
    for (const pattern of locked) {
      const isMatch = picomatch(pattern, { dot: true });
      const hits = files.filter((f) => isMatch(f));
      if (hits.length === 0)
        throw new ArswarmError(
          Code.FailedPrecondition,
          `locked file "${pattern}" is not in the target at ${commit.slice(0, 7)}`,
          {
            field: 'target.locked',
          },
        );
      for (const f of hits) {
        const buf = await this.g.binaryCatFile(['blob', `${commit}:${f}`]);
        out[f] = sha256(buf);
      }
    }
    return out;
  }

  /** A unified diff turning `commit` into the same tree with `changes` applied. */
  async makeDiff(commit: string, changes: readonly FileChange[]): Promise<string> {
    return this.lock.run(async () => {
      const s = git(this.scratch);
      await s.raw(['checkout', '-q', '--detach', '-f', commit]);
      await s.raw(['clean', '-fdq']);
      for (const c of changes) writeFileSync(join(this.scratch, c.path), c.content);
      const diff = await s.raw(['diff', '--no-color', '--no-ext-diff', '--no-renames']);
      await s.raw(['checkout', '-q', '-f', commit]);
      return diff;
    });
  }

  /**
   * Applies `diff` to `parent` and commits it (not on any branch). With
   * `threeWay`, a diff made against another commit is merged in; a conflict
   * throws Aborted with reason `conflict`.
   */
  async commitPatch(
    parent: string,
    diff: string,
    message: string,
    threeWay = false,
    applyArgs: string[] = [],
  ): Promise<string> {
    return this.lock.run(async () => {
      const s = git(this.scratch);
      await s.raw(['checkout', '-q', '--detach', '-f', parent]);
      await s.raw(['clean', '-fdq']);
      const patchFile = join(this.scratch, '..', 'scratch.patch');
      writeFileSync(patchFile, diff);
      try {
        await s.raw(['apply', '--index', ...(threeWay ? ['--3way'] : []), ...applyArgs, patchFile]);
      } catch (err) {
        await s.raw(['reset', '-q', '--hard']);
        throw new ArswarmError(
          Code.Aborted,
          `patch does not apply on ${parent.slice(0, 7)}: ${(err as Error).message.trim()}`,
          {
            reason: 'conflict',
            cause: err,
          },
        );
      } finally {
        rmSync(patchFile, { force: true });
      }
      const unmerged = (await s.raw(['diff', '--name-only', '--diff-filter=U'])).trim();
      if (unmerged) {
        await s.raw(['reset', '-q', '--hard']);
        throw new ArswarmError(Code.Aborted, `patch conflicts on ${parent.slice(0, 7)} in ${unmerged}`, {
          reason: 'conflict',
        });
      }
      await s.raw(['commit', '-q', '--allow-empty', '-m', message]);
      return (await s.revparse(['HEAD'])).trim();
    });
  }

  /** Carries a diff made against some commit onto `newParent` (3-way); returns the new diff. */
  async rebaseDiff(diff: string, newParent: string): Promise<string> {
    let commit: string;
    try {
      commit = await this.commitPatch(newParent, diff, 'arswarm: rebase scratch', true);
    } catch (err) {
      // A 3-way merge conflicts on edits to adjacent lines (two constants one
      // under the other). Applying with no context required still demands
      // that every removed line match exactly; the top stage re-measures the
      // result against the new head either way.
      if (!(err instanceof ArswarmError) || err.reason !== 'conflict') throw err;
      commit = await this.commitPatch(newParent, diff, 'arswarm: rebase scratch', false, ['-C0']);
    }
    return this.g.raw(['diff', '--no-color', '--no-ext-diff', '--no-renames', newParent, commit]);
  }

  /** Moves the shared branch from `expected` to `next`; fails if it moved meanwhile. */
  async advanceBranch(next: string, expected: string): Promise<void> {
    try {
      await this.g.raw(['update-ref', `refs/heads/${this.branch}`, next, expected]);
    } catch (err) {
      throw new ArswarmError(Code.Aborted, `shared branch moved (expected ${expected.slice(0, 7)})`, {
        reason: 'head_moved',
        cause: err,
      });
    }
  }

  /** Commits on the branch after `from` (oldest first), with their full messages. */
  async commitsSince(from: string): Promise<{ commit: string; parent: string; message: string }[]> {
    const out = await this.g.raw([
      'log',
      '--reverse',
      '--format=%H%x00%P%x00%B%x1e',
      `${from}..refs/heads/${this.branch}`,
    ]);
    return out
      .split('\x1e')
      .map((r) => r.trim())
      .filter(Boolean)
      .map((r) => {
        const [commit = '', parent = '', message = ''] = r.split('\x00');
        return { commit, parent: parent.split(' ')[0] ?? '', message };
      });
  }

  /** True when `a` is an ancestor of (or equal to) `b`. */
  async isAncestor(a: string, b: string): Promise<boolean> {
    try {
      await this.g.raw(['merge-base', '--is-ancestor', a, b]);
      return true;
    } catch {
      return false;
    }
  }

  /** Pins a commit with a ref so bundles can carry it. */
  async pin(commit: string): Promise<string> {
    const ref = `refs/arswarm/c/${commit}`;
    await this.g.raw(['update-ref', ref, commit]);
    return ref;
  }

  /** Raw git access for read-only commands (log, show). */
  raw(args: string[]): Promise<string> {
    return this.g.raw(args);
  }

  /** Removes the scratch worktree. */
  async close(): Promise<void> {
    await this.lock.run(async () => {
      rmSync(this.scratch, { recursive: true, force: true });
      await this.g.raw(['worktree', 'prune']).catch(() => undefined);
    });
  }
}
