import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArswarmError } from '../common/errors.js';
import { TargetSetupSchema, TargetSpecSchema } from '../gen/arswarm/v1/trial_pb.js';
import { TargetEnvs } from './target-env.js';

let dir: string;
let tree: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'arswarm-envs-'));
  tree = join(dir, 'tree');
  mkdirSync(tree);
  writeFileSync(join(tree, 'pyproject.toml'), '[project]\nname = "t"\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A setup that makes the env dir, counts its runs in runs.log and fails while `fail` exists. */
function setupOf(
  command = `test ! -e ${join(dir, 'fail')} && mkdir -p "$MY_ENV" && echo run >> ${join(dir, 'runs.log')}`,
) {
  const setup = create(TargetSetupSchema, {
    command,
    inputs: ['pyproject.toml'],
    envVar: 'MY_ENV',
    timeoutSeconds: 30,
  });
  return { spec: create(TargetSpecSchema, { env: {}, setup }), setup };
}

function input(s = setupOf()) {
  return {
    ...s,
    tree,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    logFile: join(dir, 'trial.log'),
    maxLogBytes: 1 << 20,
    killGraceMs: 1000,
  };
}

const runs = () =>
  existsSync(join(dir, 'runs.log'))
    ? readFileSync(join(dir, 'runs.log'), 'utf8').split('\n').filter(Boolean).length
    : 0;

describe('TargetEnvs', () => {
  it('runs the setup once for concurrent and later trials of one key, and exports its directory', async () => {
    const envs = TargetEnvs.for(join(dir, 'envs'));
    expect(TargetEnvs.for(join(dir, 'envs'))).toBe(envs);
    const dirs = await Promise.all([1, 2, 3].map(() => envs.ensure(input())));
    expect(new Set(dirs).size).toBe(1);
    expect(existsSync(dirs[0]!)).toBe(true);
    expect(await envs.ensure(input())).toBe(dirs[0]);
    expect(runs()).toBe(1);
    expect(readFileSync(join(dir, 'trial.log'), 'utf8')).toContain('preparing the target environment');
  });

  it('prepares a new environment when an input changes', async () => {
    const envs = TargetEnvs.for(join(dir, 'envs'));
    const a = await envs.ensure(input());
    writeFileSync(join(tree, 'pyproject.toml'), '[project]\nname = "t2"\n');
    const b = await envs.ensure(input());
    expect(b).not.toBe(a);
    expect(runs()).toBe(2);
  });

  it('does not remember a failed setup: the next trial runs it again', async () => {
    const envs = TargetEnvs.for(join(dir, 'envs'));
    writeFileSync(join(dir, 'fail'), '');
    const err = await envs.ensure(input()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArswarmError);
    expect((err as ArswarmError).reason).toBe('setup_failed');
    expect((err as ArswarmError).message).toMatch(/exited with 1/);
    rmSync(join(dir, 'fail'));
    await envs.ensure(input());
    expect(runs()).toBe(1);
  });

  it('refuses a missing input as the commit’s fault', async () => {
    const envs = TargetEnvs.for(join(dir, 'envs'));
    rmSync(join(tree, 'pyproject.toml'));
    const err = await envs.ensure(input()).catch((e: unknown) => e);
    expect((err as ArswarmError).reason).toBe('setup_input_missing');
  });
});
