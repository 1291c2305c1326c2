/**
 * Streams a git bundle of one commit minus what the receiver already has: the
 * body of CodeService.FetchBundle, shared by the coordinator's server and the
 * test/bench servers. `git bundle create` only bundles refs, so the commit is
 * pinned under a temporary ref for the duration of the call.
 */
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { BundleChunkSchema } from '../gen/arswarm/v1/code_pb.js';
import { ArswarmError, Code } from './errors.js';

const run = promisify(execFile);

/** Bytes per BundleChunk message. @default 1 MiB */
export const DEFAULT_BUNDLE_CHUNK_BYTES = 1 << 20;
/** `have` entries considered per request; older ones add little. */
export const MAX_HAVE = 256;

const SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;

async function existing(repoDir: string, shas: readonly string[]): Promise<string[]> {
  const valid = shas.filter((s) => SHA.test(s)).slice(0, MAX_HAVE);
  if (valid.length === 0) return [];
  const out = await new Promise<string>((ok, fail) => {
    const p = spawn('git', ['-C', repoDir, 'cat-file', '--batch-check=%(objectname) %(objecttype)'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let text = '';
    p.stdout.on('data', (d: Buffer) => (text += d.toString()));
    p.on('error', fail);
    p.on('close', () => ok(text));
    p.stdin.end(valid.map((s) => `${s}^{commit}`).join('\n') + '\n');
  });
  return out
    .split('\n')
    .map((l) => l.split(' '))
    .filter((t) => t[1] === 'commit')
    .map((t) => t[0]!);
}

/**
 * Yields BundleChunk messages for `want` excluding the history of `have`.
 * The first chunk carries `commit` and `totalBytes`.
 */
export async function* bundleChunks(
  repoDir: string,
  want: string,
  have: readonly string[] = [],
  chunkBytes = DEFAULT_BUNDLE_CHUNK_BYTES,
): AsyncGenerator<MessageInitShape<typeof BundleChunkSchema>> {
  if (!SHA.test(want))
    throw new ArswarmError(
      Code.InvalidArgument,
      `want must be a full commit sha, got ${JSON.stringify(want)}`,
    );
  const known = await existing(repoDir, [want]);
  if (known.length === 0)
    throw new ArswarmError(Code.NotFound, `commit ${want} not found`, { reason: 'unknown_commit' });
  const haves = (await existing(repoDir, have)).filter((h) => h !== want);
  const ref = `refs/arswarm-bundle/${randomBytes(6).toString('hex')}`;
  await run('git', ['-C', repoDir, 'update-ref', ref, want]);
  try {
    // Buffered whole: the size goes in the first chunk and a failure surfaces
    // before any byte is sent. Bundles of one research repo are small.
    const data = await new Promise<Buffer>((ok, fail) => {
      const p = spawn(
        'git',
        ['-C', repoDir, 'bundle', 'create', '--quiet', '-', ref, ...haves.map((h) => `^${h}`)],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const parts: Buffer[] = [];
      let err = '';
      p.stdout.on('data', (d: Buffer) => parts.push(d));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', fail);
      p.on('close', (code) =>
        code === 0
          ? ok(Buffer.concat(parts))
          : fail(new ArswarmError(Code.Internal, `git bundle create failed: ${err.trim().slice(0, 500)}`)),
      );
    });
    for (let off = 0; off < data.length || off === 0; off += chunkBytes) {
      const first = off === 0;
      yield {
        data: data.subarray(off, off + chunkBytes),
        totalBytes: first ? BigInt(data.length) : 0n,
        commit: first ? want : '',
      };
      if (data.length === 0) break;
    }
  } finally {
    await run('git', ['-C', repoDir, 'update-ref', '-d', ref]).catch(() => undefined);
  }
}
