import { describe, expect, it } from 'vitest';
import { BundleCache, type BundleSource } from './bundle-cache.js';

const bytes = (n: number) => new Uint8Array(n);

/** A source that yields `parts` chunks of `size` bytes after a short wait, counting its runs. */
function source(parts = 2, size = 10) {
  const runs: string[] = [];
  const fn: BundleSource = async function* (want, have) {
    runs.push(`${want}|${have.join(',')}`);
    for (let i = 0; i < parts; i++) {
      await new Promise((r) => setTimeout(r, 5));
      yield { data: bytes(size), commit: i === 0 ? want : '', totalBytes: 0n };
    }
  };
  return { fn, runs };
}

async function collect(it: AsyncIterable<{ data?: Uint8Array }>): Promise<number> {
  let n = 0;
  for await (const c of it) n += c.data?.length ?? 0;
  return n;
}

describe('BundleCache', () => {
  it('runs git once for concurrent and later requests of the same bundle', async () => {
    const s = source();
    const cache = new BundleCache(s.fn);
    const sizes = await Promise.all(Array.from({ length: 20 }, () => collect(cache.fetch('a', ['x', 'y']))));
    expect(sizes).toEqual(Array(20).fill(20));
    expect(await collect(cache.fetch('a', ['y', 'x', 'y']))).toBe(20);
    expect(s.runs).toEqual(['a|x,y']);
    expect(cache.counts).toEqual({ hits: 20, runs: 1 });
  });

  it('keeps different have lists apart', async () => {
    const s = source();
    const cache = new BundleCache(s.fn);
    await collect(cache.fetch('a'));
    await collect(cache.fetch('a', ['x']));
    expect(s.runs).toEqual(['a|', 'a|x']);
  });

  it('does not keep a bundle above the entry limit, and evicts the least recently used', async () => {
    const s = source(2, 10);
    const cache = new BundleCache(s.fn, { maxBytes: 45, maxEntryBytes: 15 });
    await collect(cache.fetch('big'));
    await collect(cache.fetch('big'));
    expect(s.runs).toEqual(['big|', 'big|']);
    const small = new BundleCache(source(1, 20).fn, { maxBytes: 45 });
    await collect(small.fetch('a'));
    await collect(small.fetch('b'));
    await collect(small.fetch('a'));
    await collect(small.fetch('c')); // evicts b, the least recently used
    expect(small.counts.runs).toBe(3);
    await collect(small.fetch('a'));
    expect(small.counts.runs).toBe(3);
    await collect(small.fetch('b'));
    expect(small.counts.runs).toBe(4);
  });

  it('does not keep a failed or abandoned run; waiting requests run their own', async () => {
    let fail = true;
    const runs: string[] = [];
    const fn: BundleSource = async function* (want) {
      runs.push(want);
      yield { data: bytes(5), commit: want, totalBytes: 0n };
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error('git bundle create failed');
      yield { data: bytes(5), commit: '', totalBytes: 0n };
    };
    const cache = new BundleCache(fn);
    const first = collect(cache.fetch('a'));
    fail = true;
    const second = collect(cache.fetch('a'));
    await expect(first).rejects.toThrow('git bundle create failed');
    fail = false;
    expect(await second).toBe(10);
    expect(runs).toEqual(['a', 'a']);
    // An abandoned stream (the worker went away) is not kept either.
    const it = cache.fetch('b')[Symbol.asyncIterator]();
    await it.next();
    await it.return(undefined);
    expect(await collect(cache.fetch('b'))).toBe(10);
    expect(runs).toEqual(['a', 'a', 'b', 'b']);
    expect(await collect(cache.fetch('b'))).toBe(10);
    expect(runs).toHaveLength(4);
  });
});
