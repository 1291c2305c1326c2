import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArswarmError, Code } from '../common/errors.js';
import {
  decideIsolation,
  effectiveCaps,
  handOver,
  lockDownWorkDir,
  loopTrialIds,
  missingCaps,
  trialHome,
  unreachableAncestor,
} from './isolation.js';

const ALL = (1n << 41n) - 1n;
const dir = mkdtempSync(join(tmpdir(), 'arswarm-iso-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o7777;

describe('capabilities', () => {
  it('reads CapEff and names what is missing', () => {
    expect(effectiveCaps('Name:\tx\nCapEff:\t00000000000000c1\n')).toBe(0xc1n);
    expect(effectiveCaps('no caps here')).toBe(0n);
    // CHOWN, SETGID, SETUID present; DAC_OVERRIDE, FOWNER, KILL not.
    expect(missingCaps(0xc1n)).toEqual(['CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_KILL']);
    expect(missingCaps(ALL)).toEqual([]);
  });
});

describe('decideIsolation', () => {
  it('auto isolates as nobody with the capabilities, and says why not without them', () => {
    expect(decideIsolation('auto', ALL, 0)).toEqual({ ids: { uid: 65534, gid: 65534 } });
    expect(decideIsolation('auto', 0n, 1000)).toMatchObject({ off: expect.stringContaining('CAP_SETUID') });
    expect(decideIsolation('none', ALL, 0)).toEqual({ off: 'disabled (trial user none)' });
  });

  it('refuses given ids it cannot switch to, root, or the worker itself', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as ArswarmError).code;
      }
      return undefined;
    };
    expect(code(() => decideIsolation({ uid: 10002, gid: 10002 }, 0n, 1000))).toBe(Code.FailedPrecondition);
    expect(code(() => decideIsolation({ uid: 1000, gid: 1000 }, ALL, 1000))).toBe(Code.InvalidArgument);
    expect(decideIsolation({ uid: 10002, gid: 10003 }, ALL, 0)).toEqual({ ids: { uid: 10002, gid: 10003 } });
  });
});

describe('loopTrialIds', () => {
  it('gives each loop of a given base its own uid, and auto one shared uid', () => {
    const base = { uid: 10002, gid: 10002 };
    expect([0, 1, 2].map((k) => loopTrialIds(base, k, true))).toEqual([
      base,
      { uid: 10003, gid: 10002 },
      { uid: 10004, gid: 10002 },
    ]);
    expect(loopTrialIds({ uid: 65534, gid: 65534 }, 3, false)).toEqual({ uid: 65534, gid: 65534 });
    expect(() => loopTrialIds({ uid: 0xfffffffe, gid: 1 }, 1, true)).toThrow(ArswarmError);
  });
});

describe('unreachableAncestor', () => {
  it('names the first directory the ids cannot enter', async () => {
    const closed = join(dir, 'closed');
    mkdirSync(join(closed, 'inner'), { recursive: true });
    const ids = { uid: 65534, gid: 65534 };
    // mkdtemp makes the test dir itself 0700.
    expect(await unreachableAncestor(join(closed, 'inner'), ids)).toBe(
      `${dir} (mode 700, uid ${process.getuid?.()})`,
    );
    chmodSync(dir, 0o755);
    chmodSync(closed, 0o700);
    expect(await unreachableAncestor(join(closed, 'inner'), ids)).toMatch(/closed \(mode 700/);
    chmodSync(closed, 0o711);
    expect(await unreachableAncestor(join(closed, 'inner'), ids)).toBeUndefined();
  });
});

describe.runIf(process.getuid?.() === 0)('work dir and hand-over (as root)', () => {
  it('keeps the worker private, trials searchable, caches read-only, and hands a tree over', async () => {
    const work = join(dir, 'work');
    mkdirSync(join(work, 'cache'), { recursive: true });
    mkdirSync(join(work, 'envs'), { mode: 0o755 });
    await lockDownWorkDir(work, [join(work, 'trials')], [join(dir, 'data')]);
    expect(mode(work)).toBe(0o711);
    for (const d of ['cache', 'trees', 'logs', 'run']) expect(mode(join(work, d)), d).toBe(0o700);
    expect(mode(join(work, 'trials'))).toBe(0o711);
    expect(mode(join(work, 'envs'))).toBe(0o755);
    expect(mode(join(dir, 'data'))).toBe(0o755);

    const tree = join(work, 'trials', 't1');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    writeFileSync(join(tree, 'sub', 'train.py'), 'print(1)\n');
    const vars = await handOver(tree, { uid: 65534, gid: 65533 });
    expect(vars).toEqual({ HOME: trialHome(tree), TMPDIR: join(trialHome(tree), 'tmp') });
    for (const p of [tree, join(tree, 'sub', 'train.py'), trialHome(tree), vars.TMPDIR!])
      expect([statSync(p).uid, statSync(p).gid], p).toEqual([65534, 65533]);
    expect(mode(tree)).toBe(0o700);
  });
});
