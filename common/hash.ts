/** File hashing shared by the coordinator (locked-file hashes) and the worker (integrity checks). */
import { readFile } from 'node:fs/promises';
import { sha256 } from './git.js';

/** Hex sha256 of a file's contents; rejects (ENOENT etc.) when it cannot be read. */
export async function sha256File(path: string): Promise<string> {
  return sha256(await readFile(path));
}
