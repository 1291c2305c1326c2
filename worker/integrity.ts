/**
 * File integrity around a run: locked files must match the hashes the
 * coordinator recorded, and neither they nor the patched editable files may
 * change between the check before the command starts and the one after it exits.
 */
import { join } from 'node:path';
import { sha256RegularFile } from '../common/hash.js';
import type { TargetSpec } from '../gen/arswarm/v1/trial_pb.js';

const GLOB_CHARS = /[*?[\]{}!]/;

/**
 * path -> sha256 hex, null when the file is missing, or `!<kind>` when the
 * path is not a regular file (a symlink, FIFO, device, directory): never equal
 * to a recorded hash, so such a swap is an integrity failure.
 */
export type Hashes = Map<string, string | null>;

/** The Hashes value of a path that is not a regular file. */
const notRegular = (h: string | null | undefined): string | undefined =>
  h?.startsWith('!') ? h.slice(1) : undefined;

/** Files whose contents are checked before and after the run. */
export function watchedFiles(
  spec: TargetSpec | undefined,
  changed: readonly string[],
): { locked: string[]; editable: string[] } {
  const locked = new Set<string>(Object.keys(spec?.lockedSha256 ?? {}));
  for (const l of spec?.locked ?? []) if (!GLOB_CHARS.test(l)) locked.add(l);
  const editable = new Set<string>(changed);
  for (const e of spec?.editable ?? []) if (!GLOB_CHARS.test(e)) editable.add(e);
  for (const l of locked) editable.delete(l);
  return { locked: [...locked].sort(), editable: [...editable].sort() };
}

/** Hashes files under dir (missing ones map to null). */
export async function hashFiles(dir: string, files: readonly string[]): Promise<Hashes> {
  const entries = await Promise.all(
    files.map(async (f) => {
      try {
        const h = await sha256RegularFile(join(dir, f));
        return [f, 'sha256' in h ? h.sha256 : `!${h.not}`] as const;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [f, null] as const;
        throw err;
      }
    }),
  );
  return new Map(entries);
}

/** The first locked file that differs from the recorded hash, as a reason; undefined when all match. */
export function checkLocked(hashes: Hashes, spec: TargetSpec | undefined): string | undefined {
  for (const [file, want] of Object.entries(spec?.lockedSha256 ?? {}).sort()) {
    const got = hashes.get(file);
    if (got === null || got === undefined) return `locked file ${file} is missing`;
    const kind = notRegular(got);
    if (kind) return `locked file ${file} is not a regular file (${kind})`;
    if (got !== want.toLowerCase()) return `locked file ${file} does not match its recorded sha256`;
  }
  return undefined;
}

/** The first file whose hash changed between two snapshots, as a reason; undefined when none did. */
export function compareHashes(before: Hashes, after: Hashes, when: string): string | undefined {
  for (const [file, h] of before) {
    const now = after.get(file);
    if (now === h) continue;
    if (now === null) return `${file} was deleted ${when}`;
    const kind = notRegular(now);
    if (kind) return `${file} was replaced by a ${kind} ${when}`;
    return h === null ? `${file} appeared ${when}` : `${file} changed ${when}`;
  }
  return undefined;
}
