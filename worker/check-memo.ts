/**
 * Passed semantic checks, remembered per worker process. The replicates of a
 * candidate (and its baselines' parents, re-run at each stage) carry the same
 * patch onto the same parent under the same rules, and checking it again costs
 * a python round trip per changed file on the path between two runs.
 *
 * The key is a hash of everything the checker is given: each file's path and
 * its text before and after the patch, the rules (locked files, eval
 * functions, locked names, report keys, frozen regions) and the locked files'
 * recorded hashes. The checker reads nothing else (it gets texts, not paths to
 * open), so an equal key means an equal verdict. Only passes are remembered:
 * a refusal or an unavailable checker checks again next time.
 */
import { createHash } from 'node:crypto';
import type { IntegrityRules, PatchedFile } from '../common/python-check/index.js';

/** Passes kept per worker process. @default 2048 */
export const DEFAULT_PASS_MEMO_SIZE = 2048;

/** What a verdict depends on, as one hash. */
export function checkKey(
  files: readonly PatchedFile[],
  rules: IntegrityRules,
  lockedSha256: Readonly<Record<string, string>> = {},
): string {
  const h = createHash('sha256');
  // Length-prefixed parts: no two different inputs share a byte stream.
  const part = (s: string | undefined) => {
    if (s === undefined) h.update('-;');
    else
      h.update(`${Buffer.byteLength(s)}:`)
        .update(s)
        .update(';');
  };
  part(JSON.stringify(rules));
  part(JSON.stringify(Object.entries(lockedSha256).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  for (const f of files) {
    part(f.path);
    part(f.before);
    part(f.after);
  }
  return h.digest('hex');
}

/** A bounded set of keys, least recently used dropped first. */
export class PassMemo {
  /** Insertion order is use order (a hit moves its key last). */
  private readonly keys = new Set<string>();

  constructor(readonly max = DEFAULT_PASS_MEMO_SIZE) {}

  get size(): number {
    return this.keys.size;
  }

  /** Whether the key passed before (and marks it recently used). */
  has(key: string): boolean {
    if (!this.keys.has(key)) return false;
    this.keys.delete(key);
    this.keys.add(key);
    return true;
  }

  /** Remembers a pass. */
  add(key: string): void {
    this.keys.delete(key);
    this.keys.add(key);
    while (this.keys.size > this.max) this.keys.delete(this.keys.values().next().value!);
  }
}
