import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gitTop, searchCliConfig } from './cli-config-search.js';

describe('CLI config search', () => {
  let dir: string;
  let repo: string;
  /** Writes <folder>/.arswarm/cli.yaml, its modification time `ageS` seconds ago; returns its path. */
  const stateDir = (folder: string, ageS = 0) => {
    mkdirSync(join(folder, '.arswarm'), { recursive: true });
    const f = join(folder, '.arswarm', 'cli.yaml');
    writeFileSync(f, 'addr: 127.0.0.1:1\n');
    const t = Date.now() / 1000 - ageS;
    utimesSync(f, t, t);
    return f;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-search-'));
    repo = join(dir, 'repo');
    mkdirSync(join(repo, '.git'), { recursive: true });
    mkdirSync(join(repo, 'src', 'deep', 'er'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the top of the git work tree, or none', () => {
    expect(gitTop(join(repo, 'src', 'deep'))).toBe(repo);
    expect(gitTop(dir)).toBeUndefined();
    // A worktree or submodule has a .git file instead of a folder.
    mkdirSync(join(repo, 'sub'));
    writeFileSync(join(repo, 'sub', '.git'), 'gitdir: ../.git/modules/sub\n');
    expect(gitTop(join(repo, 'sub'))).toBe(join(repo, 'sub'));
  });

  it('finds the state dir of a swarm started in a subfolder from the top and from anywhere below it', () => {
    expect(searchCliConfig(repo)).toBeUndefined();
    const example = stateDir(join(repo, 'examples', 'tinygpt'));
    expect(searchCliConfig(repo)).toBe(example);
    expect(searchCliConfig(join(repo, 'src', 'deep', 'er'))).toBe(example);
    expect(searchCliConfig(join(repo, 'examples'))).toBe(example);
  });

  it('takes the nearest state dir above the working directory over any below the top', () => {
    stateDir(join(repo, 'examples', 'tinygpt'));
    const top = stateDir(repo, 60);
    const src = stateDir(join(repo, 'src'), 60);
    expect(searchCliConfig(join(repo, 'src', 'deep'))).toBe(src);
    expect(searchCliConfig(join(repo, 'examples'))).toBe(top);
  });

  it('takes the newest of several state dirs below the top', () => {
    stateDir(join(repo, 'examples', 'landscape'), 120);
    const newer = stateDir(join(repo, 'examples', 'tinygpt'), 10);
    stateDir(join(repo, 'one'), 60);
    expect(searchCliConfig(repo)).toBe(newer);
  });

  it('looks no deeper than two folders below the top, nor into node_modules', () => {
    stateDir(join(repo, 'a', 'b', 'c'));
    stateDir(join(repo, 'node_modules', 'arswarm'));
    expect(searchCliConfig(repo)).toBeUndefined();
  });

  it('outside a git work tree reads only the working directory', () => {
    const plain = join(dir, 'plain');
    stateDir(join(plain, 'examples', 'x'));
    stateDir(dir);
    expect(searchCliConfig(plain)).toBeUndefined();
    const own = stateDir(plain);
    expect(searchCliConfig(plain)).toBe(own);
  });
});
