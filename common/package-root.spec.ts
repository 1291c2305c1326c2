import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPackageRoot, packagePath, PACKAGE_ROOT } from './package-root.js';

describe('package root', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('is the folder of arswarm package.json, holding the files the code reads', () => {
    expect(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).name).toBe('arswarm');
    for (const p of ['bin/arswarm.js', 'web/index.html', 'program.md', 'examples/landscape/arswarm.yaml'])
      expect(existsSync(packagePath(p)), p).toBe(true);
  });

  it('is the same from a source folder and from the compiled output one level deeper', () => {
    const root = mkdtempSync(join(tmpdir(), 'arswarm-root-'));
    dirs.push(root);
    writeFileSync(join(root, 'package.json'), '{}');
    mkdirSync(join(root, 'common'));
    mkdirSync(join(root, 'dist', 'common'), { recursive: true });
    expect(findPackageRoot(join(root, 'common'))).toBe(root);
    expect(findPackageRoot(join(root, 'dist', 'common'))).toBe(root);
  });
});
