import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Pusher } from './pusher.js';
import { TargetRepo } from './repo.js';

describe('Pusher', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-push-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('pushes the shared branch to a real remote and retries until the remote exists', async () => {
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'train.py'), 'LR = 0.1\n');
    const repo = await TargetRepo.open({
      sourceDir: src,
      stateDir: join(dir, 'state'),
      branch: 'arswarm/main',
      base: 'HEAD',
    });
    const remote = join(dir, 'remote.git');
    const logs: string[] = [];
    const pusher = new Pusher(repo, remote, (m) => logs.push(m), 5, 100);
    pusher.request();
    // The remote appears after the first attempt failed.
    await new Promise((r) => setTimeout(r, 50));
    execFileSync('git', ['init', '-q', '--bare', remote]);
    await pusher.idle();
    expect(logs.length).toBeGreaterThanOrEqual(1);
    expect(pusher.lastError).toBe('');
    const pushed = execFileSync('git', ['-C', remote, 'rev-parse', 'refs/heads/arswarm/main'], {
      encoding: 'utf8',
    }).trim();
    expect(pushed).toBe(await repo.head());
    await repo.close();
  });
});
