/**
 * CodeService.FetchBundle with a memory of recent bundles. A fleet that
 * starts, or a merge, makes every worker ask for the same commit within
 * seconds; one `git bundle` per request (five git processes) kept the
 * coordinator's thread in spawn() most of the time at 1,000 workers. A
 * bundle of a commit minus a set of commits never changes, so requests with
 * the same `want` and `have` share one git run and later ones are served from
 * memory (least recently used first out, bounded in bytes). Bundles larger
 * than an entry's limit stream from git every time, as before.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { BundleChunkSchema } from '../gen/arswarm/v1/code_pb.js';

type Chunk = MessageInitShape<typeof BundleChunkSchema>;
/** Streams the bundle of `want` minus `have` (common/git-bundle.ts bundleChunks). */
export type BundleSource = (want: string, have: readonly string[]) => AsyncIterable<Chunk>;

export interface BundleCacheOptions {
  /** Bytes of bundles kept in all. @default 64 MiB */
  maxBytes?: number;
  /** A bundle larger than this is not kept. @default 16 MiB */
  maxEntryBytes?: number;
}

/** @default 64 MiB */
export const DEFAULT_BUNDLE_CACHE_BYTES = 64 << 20;
/** @default 16 MiB */
export const DEFAULT_BUNDLE_ENTRY_BYTES = 16 << 20;

function dataLength(c: Chunk): number {
  return c.data?.length ?? 0;
}

export class BundleCache {
  private readonly kept = new Map<string, { chunks: Chunk[]; bytes: number }>();
  /** Runs in progress: resolve to the chunks once complete (undefined when too large or failed). */
  private readonly running = new Map<string, Promise<Chunk[] | undefined>>();
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly maxEntryBytes: number;
  /** Requests served from memory / by a git run (for tests and status). */
  readonly counts = { hits: 0, runs: 0 };

  constructor(
    private readonly source: BundleSource,
    options: BundleCacheOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_BUNDLE_CACHE_BYTES;
    this.maxEntryBytes = Math.min(options.maxEntryBytes ?? DEFAULT_BUNDLE_ENTRY_BYTES, this.maxBytes);
  }

  /** The chunks of the bundle of `want` minus `have`. */
  async *fetch(want: string, have: readonly string[] = []): AsyncGenerator<Chunk> {
    const key = `${want}|${[...new Set(have)].sort().join(',')}`;
    // No await before `running` is set: concurrent requests must find the run in progress.
    const waiting = this.running.get(key);
    const hit = this.kept.get(key)?.chunks ?? (waiting && (await waiting));
    if (hit) {
      this.counts.hits++;
      this.touch(key);
      yield* hit;
      return;
    }
    this.counts.runs++;
    let done!: (c: Chunk[] | undefined) => void;
    const first = !this.running.has(key);
    if (first) this.running.set(key, new Promise((r) => (done = r)));
    const chunks: Chunk[] = [];
    let bytes = 0;
    let complete = false;
    try {
      for await (const c of this.source(want, have)) {
        bytes += dataLength(c);
        if (first && bytes <= this.maxEntryBytes) chunks.push(c);
        yield c;
      }
      complete = true;
    } finally {
      if (first) {
        this.running.delete(key);
        const keep = complete && bytes <= this.maxEntryBytes;
        if (keep) this.keep(key, chunks, bytes);
        done(keep ? chunks : undefined);
      }
    }
  }

  private keep(key: string, chunks: Chunk[], bytes: number): void {
    this.kept.set(key, { chunks, bytes });
    this.bytes += bytes;
    for (const [k, v] of this.kept) {
      if (this.bytes <= this.maxBytes) break;
      this.kept.delete(k);
      this.bytes -= v.bytes;
    }
  }

  private touch(key: string): void {
    const v = this.kept.get(key);
    if (!v) return;
    this.kept.delete(key);
    this.kept.set(key, v);
  }
}
