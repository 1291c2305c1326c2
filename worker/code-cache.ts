/**
 * The per-host code cache: a bare repo filled incrementally from CodeService
 * bundles, and the fresh work dirs trials run in (copies of pristine trees).
 * Every fetched commit is pinned by a ref so `git gc` never drops it and so
 * the refs tell the server what the cache already has.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import type { BundleChunk } from '../gen/arswarm/v1/code_pb.js';
import { ArswarmError, Code } from '../common/errors.js';
import { git, gitRaw } from './git-exec.js';
import { TreeStore } from './tree-store.js';

/** Refs under which fetched commits are pinned. */
const PIN_PREFIX = 'refs/arswarm/c/';
/** How many recent pins are sent as `have`. */
export const MAX_HAVES = 64;
const SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;

/** Where bundles come from: the CodeService client (or anything shaped like it). */
export interface BundleSource {
  fetchBundle(
    req: { want: string; have: string[] },
    opts?: { signal?: AbortSignal },
  ): AsyncIterable<BundleChunk>;
}

/** A fetch that receives nothing for this long is abandoned. @default 60000 */
export const DEFAULT_FETCH_IDLE_TIMEOUT_MS = 60_000;

/** What ensure() did. */
export interface FetchInfo {
  readonly fetched: boolean;
  readonly bytes: number;
}

export class CodeCache {
  readonly repoDir: string;
  private readonly incomingDir: string;
  private readonly known = new Set<string>();
  /** Pinned commits, newest last (read from the refs once, then kept here: one git process less per fetch). */
  private pins: string[] | undefined;
  private readonly inflight = new Map<string, Promise<FetchInfo>>();
  private readonly closing = new AbortController();

  private readonly trees: TreeStore;

  /** `owner` names this process's private pristine trees (several workers may share a work dir). */
  constructor(
    workDir: string,
    private readonly client: BundleSource,
    owner = 'default',
    private readonly fetchIdleTimeoutMs = DEFAULT_FETCH_IDLE_TIMEOUT_MS,
  ) {
    this.repoDir = join(workDir, 'cache', 'repo.git');
    this.incomingDir = join(workDir, 'cache', 'incoming');
    this.trees = new TreeStore(this.repoDir, join(workDir, 'trees', owner));
  }

  /** Creates the bare repo when missing and clears this process's pristine trees. */
  async init(): Promise<void> {
    await mkdir(this.incomingDir, { recursive: true });
    if (!existsSync(join(this.repoDir, 'HEAD'))) {
      await mkdir(this.repoDir, { recursive: true });
      await git(this.repoDir, ['init', '--quiet', '--bare']);
      // Pins keep every fetched commit; automatic gc would only cost time mid-trial.
      await git(this.repoDir, ['config', 'gc.auto', '0']);
    }
    await this.trees.init();
  }

  /** Whether the cache holds the commit (and its history). */
  async has(sha: string): Promise<boolean> {
    if (this.known.has(sha)) return true;
    const r = await gitRaw(this.repoDir, ['cat-file', '-e', `${sha}^{commit}`]);
    if (r.code === 0) this.known.add(sha);
    return r.code === 0;
  }

  /** Makes sure the commit is in the cache, fetching a bundle when it is not. Concurrent calls share one fetch. */
  async ensure(sha: string): Promise<FetchInfo> {
    if (!SHA.test(sha))
      throw new ArswarmError(Code.InvalidArgument, `parent commit ${JSON.stringify(sha)} is not a full sha`, {
        reason: 'bad_commit',
      });
    if (await this.has(sha)) return { fetched: false, bytes: 0 };
    let p = this.inflight.get(sha);
    if (!p) {
      p = this.fetch(sha).finally(() => this.inflight.delete(sha));
      this.inflight.set(sha, p);
    }
    return p;
  }

  /** Recent pinned commits, newest first: the `have` list. */
  async haves(): Promise<string[]> {
    if (!this.pins) {
      const out = await git(this.repoDir, [
        'for-each-ref',
        '--sort=-committerdate',
        `--count=${MAX_HAVES}`,
        '--format=%(objectname)',
        PIN_PREFIX,
      ]);
      this.pins = out.split('\n').filter(Boolean).reverse();
    }
    return this.pins.slice(-MAX_HAVES).reverse();
  }

  private async fetch(sha: string): Promise<FetchInfo> {
    const have = await this.haves();
    const file = join(this.incomingDir, `${sha}-${randomBytes(4).toString('hex')}.bundle`);
    let bytes = 0;
    const ac = new AbortController();
    const stopIdle = () => clearTimeout(idle);
    let idle = setTimeout(() => ac.abort(), this.fetchIdleTimeoutMs);
    const onClose = () => ac.abort();
    this.closing.signal.addEventListener('abort', onClose, { once: true });
    try {
      const out = createWriteStream(file);
      const failed = once(out, 'error').then(([e]) => Promise.reject(e as Error));
      failed.catch(() => undefined);
      try {
        for await (const chunk of this.client.fetchBundle({ want: sha, have }, { signal: ac.signal })) {
          stopIdle();
          idle = setTimeout(() => ac.abort(), this.fetchIdleTimeoutMs);
          if (bytes === 0 && chunk.commit && chunk.commit !== sha) {
            throw new ArswarmError(Code.DataLoss, `asked for ${sha}, got a bundle of ${chunk.commit}`);
          }
          bytes += chunk.data.length;
          if (!out.write(chunk.data)) await Promise.race([once(out, 'drain'), failed]);
        }
      } finally {
        stopIdle();
        out.end();
        await Promise.race([once(out, 'close'), failed]);
      }
      if (ac.signal.aborted) {
        throw new ArswarmError(
          Code.Unavailable,
          this.closing.signal.aborted ? 'worker shutting down' : 'no data within the idle timeout',
        );
      }
      if (bytes === 0) throw new ArswarmError(Code.DataLoss, `empty bundle for ${sha}`);
      await git(this.repoDir, ['bundle', 'unbundle', file]);
      // Refuses an object the repo lacks: once it succeeds the commit is here
      // (unbundle checked the bundle's prerequisites, so its history is too).
      await git(this.repoDir, ['update-ref', `${PIN_PREFIX}${sha}`, sha]);
      this.known.add(sha);
      this.pins?.push(sha);
    } catch (err) {
      const e = ArswarmError.from(err, Code.Unavailable);
      throw new ArswarmError(e.code, `code fetch of ${sha.slice(0, 12)} failed: ${e.message}`, {
        reason: 'fetch_failed',
        cause: err,
      });
    } finally {
      stopIdle();
      this.closing.signal.removeEventListener('abort', onClose);
      await rm(file, { force: true });
    }
    if (!(await this.has(sha)))
      throw new ArswarmError(Code.DataLoss, `bundle did not contain ${sha}`, { reason: 'fetch_failed' });
    return { fetched: true, bytes };
  }

  /** Copies the commit's files into a fresh directory (replacing whatever was there). */
  async checkout(sha: string, dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    await this.trees.materialize(sha, dir);
  }

  /** Abandons fetches under way (shutdown). */
  abort(): void {
    this.closing.abort();
  }

  /** Removes a trial's work dir. */
  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }
}
