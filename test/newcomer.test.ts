/**
 * A newcomer's first minutes, with the compiled CLI: `arswarm up` on a config
 * in a subfolder of a git work tree (as `up --example X` runs
 * examples/X/arswarm.yaml inside this repo) prints the exact CLI command, and
 * `arswarm status` finds the cli.yaml it wrote from the top of the tree, from
 * a subfolder and from the example's own folder, with no flag or variable.
 * The swarm itself runs from dist/ (built first when stale), so the compiled
 * output finds the dashboard's files and the examples too.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiledMain } from '../bin/compiled.js';
import { BIN, ROOT } from './support/local-swarm.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('a newcomer runs up, then status from anywhere in the work tree', () => {
  let root: string;
  let up: ChildProcess;
  let log = '';
  let env: NodeJS.ProcessEnv;
  const example = () => join(root, 'examples', 'landscape');

  const cli = (args: string[], cwd: string, bin = BIN) =>
    new Promise<Run>((ok) =>
      execFile(process.execPath, [bin, ...args], { cwd, env, timeout: 30_000 }, (err, stdout, stderr) =>
        ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );

  beforeAll(async () => {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.js'), '--if-stale', '--quiet'], {
      stdio: 'inherit',
    });
    root = mkdtempSync(join(tmpdir(), 'arswarm-newcomer-'));
    execFileSync('git', ['init', '-q'], { cwd: root });
    cpSync(join(ROOT, 'examples', 'landscape'), example(), {
      recursive: true,
      filter: (p) => !/(\.arswarm|__pycache__)$/.test(p),
    });
    mkdirSync(join(root, 'src', 'deep'), { recursive: true });
    // Nothing from this shell may tell the CLI where the swarm is.
    env = { ...process.env, HOME: root, XDG_CONFIG_HOME: join(root, '.config') };
    for (const k of ['ARSWARM_ADDR', 'ARSWARM_TOKEN', 'ARSWARM_CLI_CONFIG', 'ARSWARM_FROM_SOURCE'])
      delete env[k];
    up = spawn(
      process.execPath,
      [
        compiledMain(),
        'up',
        '--config',
        join(example(), 'arswarm.yaml'),
        '--workers',
        '1',
        '--max-trials',
        '0',
        '--grpc-port',
        '0',
        '--http-port',
        '0',
      ],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    up.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    up.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 90_000;
    while (!/workers started/.test(log)) {
      if (up.exitCode !== null || Date.now() > deadline) throw new Error(`arswarm up did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 240_000);

  afterAll(async () => {
    if (up && up.exitCode === null) {
      const exited = new Promise((r) => up.once('exit', r));
      up.kill('SIGINT');
      await exited;
    }
    if (root) rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('prints the bare command, since the CLI finds the file from where up ran', () => {
    expect(log).toContain('CLI from here: arswarm status');
    expect(log).toContain(`export ARSWARM_CLI_CONFIG=${join(example(), '.arswarm', 'cli.yaml')}`);
  });

  it('finds the swarm from the top, a subfolder and the example folder', async () => {
    const runs = await Promise.all(
      [root, join(root, 'src', 'deep'), example()].map((cwd) => cli(['status'], cwd)),
    );
    for (const r of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^branch arswarm\/main @ [0-9a-f]{7}/);
    }
    const json = await cli(['whoami', '--json'], join(root, 'src'));
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ role: 'admin' });
  });

  it('serves the dashboard from the compiled coordinator', async () => {
    const file = parse(readFileSync(join(example(), '.arswarm', 'cli.yaml'), 'utf8')) as {
      dashboard: string;
    };
    const res = await fetch(file.dashboard);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<html/i);
  });

  it('runs a trial on a worker that up started', async () => {
    const deadline = Date.now() + 90_000;
    let out = '';
    while (Date.now() < deadline) {
      out = (await cli(['status', '--json'], root)).stdout;
      if (Number((JSON.parse(out) as { trialsFinished?: string }).trialsFinished ?? 0) > 0) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`no trial finished: ${out}`);
  }, 100_000);

  it('says where the address came from when the swarm is gone', async () => {
    const gone = mkdtempSync(join(tmpdir(), 'arswarm-gone-'));
    try {
      execFileSync('git', ['init', '-q'], { cwd: gone });
      mkdirSync(join(gone, 'x', '.arswarm'), { recursive: true });
      // Port 1: nothing listens there.
      execFileSync('sh', ['-c', `printf 'addr: 127.0.0.1:1\\ntoken: t\\n' > x/.arswarm/cli.yaml`], {
        cwd: gone,
      });
      const r = await cli(['status'], gone);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`the address came from ${join(gone, 'x', '.arswarm', 'cli.yaml')}`);
    } finally {
      rmSync(gone, { recursive: true, force: true });
    }
  });
});
