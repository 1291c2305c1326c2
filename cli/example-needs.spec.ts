import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArswarmError, Code } from '../common/errors.js';
import { EXAMPLES_DIR, exampleNames } from './config-args.js';
import { ensureExampleNeeds, EXAMPLE_EXTRAS, missingExtras } from './example-needs.js';

describe('example needs', () => {
  let dir: string;
  let script: string;
  /** A setup script with the real one's interface whose "install" of torch creates a marker file, or fails. */
  const standIn = (installWorks: boolean) => {
    const marker = join(dir, 'torch-installed');
    writeFileSync(
      script,
      [
        'echo "$@" >> "$(dirname "$0")/calls"',
        `if [ "$1" = --check ]; then [ -e ${marker} ]; exit $?; fi`,
        installWorks ? `touch ${marker}` : 'exit 1',
      ].join('\n'),
    );
  };
  const calls = () => readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-needs-'));
    script = join(dir, 'setup.sh');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists torch for exactly the examples whose Python imports it', () => {
    for (const name of exampleNames()) {
      const py = readdirSync(join(EXAMPLES_DIR, name)).filter((f) => f.endsWith('.py'));
      const usesTorch = py.some((f) =>
        /^\s*(import|from) torch\b/m.test(readFileSync(join(EXAMPLES_DIR, name, f), 'utf8')),
      );
      expect(EXAMPLE_EXTRAS[name]?.includes('torch') ?? false, name).toBe(usesTorch);
    }
    expect(EXAMPLE_EXTRAS.tinygpt).toEqual(['torch']);
  });

  it('asks the real setup script, which agrees with the interpreter and the browser on this machine', () => {
    const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
    const browser = existsSync('/usr/bin/chromium');
    expect(missingExtras(['torch', 'browser'])).toEqual([
      ...(torch ? [] : ['torch']),
      ...(browser ? [] : ['browser']),
    ]);
  });

  it('installs a missing extra on first use, saying so, and not again', () => {
    standIn(true);
    const said: string[] = [];
    ensureExampleNeeds('tinygpt', (m) => said.push(m), script);
    expect(calls()).toEqual(['--check torch', '--with torch', '--check torch']);
    expect(said.join('\n')).toMatch(
      /tinygpt example needs torch for \/usr\/bin\/python3 .*installing it now \(npm run setup -- --with torch\)/,
    );
    ensureExampleNeeds('tinygpt', (m) => said.push(m), script);
    expect(calls()).toHaveLength(4);
    expect(said).toHaveLength(1);
  });

  it('stops with the command to run when the install fails', () => {
    standIn(false);
    let err: unknown;
    try {
      ensureExampleNeeds('tinygpt', () => {}, script);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ArswarmError);
    expect((err as ArswarmError).code).toBe(Code.FailedPrecondition);
    expect((err as ArswarmError).describe()).toContain('npm run setup -- --with torch');
  });

  it('checks nothing for an example that needs no extra', () => {
    standIn(true);
    ensureExampleNeeds('landscape', () => {}, script);
    expect(existsSync(join(dir, 'calls'))).toBe(false);
  });
});
