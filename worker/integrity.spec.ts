import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256 } from '../common/git.js';
import { TargetSpecSchema } from '../gen/arswarm/v1/trial_pb.js';
import { checkLocked, compareHashes, hashFiles } from './integrity.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(): string {
  const d = mkdtempSync(join(tmpdir(), 'arswarm-integrity-'));
  dirs.push(d);
  writeFileSync(join(d, 'prepare.py'), 'TIME_BUDGET = 300\n');
  return d;
}

describe('integrity hashes', () => {
  it('hashes regular files and maps missing ones to null', async () => {
    const d = tree();
    const h = await hashFiles(d, ['prepare.py', 'gone.py']);
    expect(h.get('prepare.py')).toBe(sha256('TIME_BUDGET = 300\n'));
    expect(h.get('gone.py')).toBeNull();
  });

  it('a locked file swapped for a symlink, FIFO, device link or directory fails without blocking', async () => {
    const d = tree();
    const before = await hashFiles(d, ['prepare.py']);
    const spec = create(TargetSpecSchema, { lockedSha256: { 'prepare.py': before.get('prepare.py')! } });
    expect(checkLocked(before, spec)).toBeUndefined();

    rmSync(join(d, 'prepare.py'));
    symlinkSync('/dev/zero', join(d, 'prepare.py'));
    const link = await hashFiles(d, ['prepare.py']);
    expect(checkLocked(link, spec)).toBe('locked file prepare.py is not a regular file (symlink)');
    expect(compareHashes(before, link, 'during the run')).toBe(
      'prepare.py was replaced by a symlink during the run',
    );

    rmSync(join(d, 'prepare.py'));
    execFileSync('mkfifo', [join(d, 'prepare.py')]);
    // A plain read of a FIFO with no writer blocks forever; this must answer at once.
    const fifo = await hashFiles(d, ['prepare.py']);
    expect(checkLocked(fifo, spec)).toBe('locked file prepare.py is not a regular file (fifo)');

    rmSync(join(d, 'prepare.py'));
    mkdirSync(join(d, 'prepare.py'));
    const dir = await hashFiles(d, ['prepare.py']);
    expect(compareHashes(before, dir, 'during the run')).toBe(
      'prepare.py was replaced by a directory during the run',
    );
  });
});
