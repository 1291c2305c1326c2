/** File hashing shared by the coordinator (locked-file hashes) and the worker (integrity checks). */
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { sha256 } from './git.js';

/** Hex sha256 of a file's contents; rejects (ENOENT etc.) when it cannot be read. */
export async function sha256File(path: string): Promise<string> {
  return sha256(await readFile(path));
}

/** What a path is when it is not a regular file. */
export type NotRegular = 'symlink' | 'directory' | 'fifo' | 'socket' | 'device' | 'other';

/**
 * Hex sha256 of a regular file, or what the path is instead. The path is
 * opened without following a symlink and without blocking, and the type is
 * read from the open descriptor: trial code that swaps a checked file for a
 * symlink to /dev/zero or a FIFO must get an integrity failure, not a worker
 * stuck reading forever. Rejects with ENOENT when the file is missing.
 */
export async function sha256RegularFile(path: string): Promise<{ sha256: string } | { not: NotRegular }> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return { not: 'symlink' };
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      const not: NotRegular = st.isDirectory()
        ? 'directory'
        : st.isFIFO()
          ? 'fifo'
          : st.isSocket()
            ? 'socket'
            : st.isCharacterDevice() || st.isBlockDevice()
              ? 'device'
              : 'other';
      return { not };
    }
    return { sha256: sha256(await fh.readFile()) };
  } finally {
    await fh.close();
  }
}
