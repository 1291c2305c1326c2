/**
 * bin/arswarm.js runs the compiled CLI in dist/ only while it is current
 * (built after every source's last change), and the TypeScript sources
 * through tsx otherwise: checked on a throw-away copy of bin/ with its own
 * sources, dist/ and stamp, run as real processes.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distIsCurrent, newestSourceMs } from '../bin/compiled.js';
import { ROOT } from './support/local-swarm.js';

describe('compiled CLI dispatch', () => {
  let root: string;
  const at = (file: string, secondsAgo: number) => {
    const t = Date.now() / 1000 - secondsAgo;
    utimesSync(join(root, file), t, t);
  };
  const run = (env: Record<string, string> = {}) =>
    execFileSync(process.execPath, [join(root, 'bin', 'arswarm.js'), 'x'], {
      env: { ...process.env, ARSWARM_FROM_SOURCE: '', ...env },
      encoding: 'utf8',
    }).trim();

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'arswarm-dispatch-'));
    cpSync(join(ROOT, 'bin'), join(root, 'bin'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    writeFileSync(join(root, 'package.json'), '{"type": "module"}');
    mkdirSync(join(root, 'cli'));
    mkdirSync(join(root, 'common'));
    mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
    // Each entry says where it runs from: TypeScript syntax in the source proves tsx ran it.
    writeFileSync(join(root, 'cli', 'main.ts'), "const from: string = 'source';\nconsole.log(from);\n");
    writeFileSync(join(root, 'common', 'a.spec.ts'), '');
    writeFileSync(join(root, 'dist', 'cli', 'main.js'), "console.log('compiled');\n");
    writeFileSync(join(root, 'dist', '.built'), '');
    at('cli/main.ts', 60);
    at('common/a.spec.ts', 60);
    at('dist/.built', 30);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('runs dist/ while it was built after every source', () => {
    expect(newestSourceMs(root)).toBeLessThan(Date.now() - 50_000);
    expect(distIsCurrent(root)).toBe(true);
    expect(run()).toBe('compiled');
  });

  it('runs the sources when asked to', () => {
    expect(run({ ARSWARM_FROM_SOURCE: '1' })).toBe('source');
  });

  it('ignores unit tests, but not a changed source, a changed tsconfig or a missing build', () => {
    at('common/a.spec.ts', 0);
    expect(distIsCurrent(root)).toBe(true);
    at('cli/main.ts', 0);
    expect(distIsCurrent(root)).toBe(false);
    expect(run()).toBe('source');
    at('cli/main.ts', 60);
    writeFileSync(join(root, 'tsconfig.build.json'), '{}');
    expect(distIsCurrent(root)).toBe(false);
    at('tsconfig.build.json', 60);
    expect(run()).toBe('compiled');
    rmSync(join(root, 'dist', '.built'));
    expect(run()).toBe('source');
  });

  it('counts a changed Python program beside the sources (build.js copies it into dist/)', () => {
    writeFileSync(join(root, 'dist', '.built'), '');
    at('dist/.built', 30);
    expect(distIsCurrent(root)).toBe(true);
    writeFileSync(join(root, 'common', 'checker.py'), '');
    at('common/checker.py', 0);
    expect(distIsCurrent(root)).toBe(false);
  });
});
