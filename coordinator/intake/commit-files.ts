/**
 * File contents at commits, read once (a commit never changes), and the diffs
 * the intake makes from them in-process: no git and no scratch-worktree lock
 * except for new files, whose headers git writes.
 */
import { carriedPaths, carryOver, unifiedDiff } from '../../common/diff/index.js';
import type { FileChange, TargetRepo } from '../repo.js';

/** Most cached reads before the cache starts over. */
const MAX_READS = 2000;

export class CommitFiles {
  /** File contents by `commit:path`. */
  private readonly reads = new Map<string, Promise<string | undefined>>();

  constructor(private readonly repo: TargetRepo) {}

  /** A file's text at a commit; undefined when it does not exist there. */
  read(commit: string, path: string): Promise<string | undefined> {
    const key = `${commit}:${path}`;
    let p = this.reads.get(key);
    if (!p) {
      if (this.reads.size > MAX_READS) this.reads.clear();
      p = this.repo.readFile(commit, path);
      this.reads.set(key, p);
    }
    return p;
  }

  /** Reads the files matching `patterns` at `commit` ahead of need, in the background. */
  warm(commit: string, patterns: readonly string[]): void {
    void this.repo
      .matching(commit, patterns)
      .then((files) => Promise.all(files.map((f) => this.read(commit, f))))
      .catch(() => undefined);
  }

  /** The diff of whole-file changes against a commit. */
  async diff(commit: string, changes: readonly FileChange[]): Promise<string> {
    const edits = [];
    for (const c of changes) {
      const before = await this.read(commit, c.path);
      if (before === undefined) return this.repo.makeDiff(commit, changes);
      edits.push({ path: c.path, before, after: c.content });
    }
    return unifiedDiff(edits);
  }

  /** A diff made against an older head, applied to the current one (in-process; git only for new files). */
  async carryOver(diff: string, head: string): Promise<string> {
    const paths = carriedPaths(diff);
    if (!paths) return this.repo.rebaseDiff(diff, head);
    const texts = new Map<string, string>();
    for (const path of paths) {
      const t = await this.read(head, path);
      if (t !== undefined) texts.set(path, t);
    }
    const after = carryOver(diff, texts);
    return unifiedDiff([...after].map(([path, text]) => ({ path, before: texts.get(path)!, after: text })));
  }
}
