/**
 * The control commands of the CLI, run as `node bin/arswarm.js ...` against a
 * running local swarm: output, --json, exit codes (2 bad input or refused
 * state, 3 not found, 4 unreachable, 5 no or weak token), and address and
 * token from flags, environment or a CLI config file.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import { LocalWorkers } from '../coordinator/local-workers.js';
import type { Role } from '../common/config.js';
import { BIN, type LocalSwarm } from './support/local-swarm.js';
import {
  branchHead,
  knobDiff,
  LADDER_TIMEOUT_MS,
  startControlSwarm,
  TOKENS,
  waitFor,
} from './support/control-swarm.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('arswarm CLI against a running swarm', () => {
  let swarm: LocalSwarm;
  let cwd: string;
  let addr: string;

  /** Runs the CLI with a role's token (or none) from the environment, in a clean cwd and HOME. */
  const cli = (args: string[], o: { role?: Role; env?: Record<string, string>; input?: string } = {}) =>
    new Promise<Run>((ok) => {
      const env: Record<string, string | undefined> = {
        ...process.env,
        HOME: cwd,
        XDG_CONFIG_HOME: join(cwd, '.config'),
        ARSWARM_ADDR: addr,
        ARSWARM_TOKEN: o.role ? TOKENS[o.role] : undefined,
        ARSWARM_CLI_CONFIG: undefined,
        ...o.env,
      };
      for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
      const child = execFile(
        process.execPath,
        [BIN, ...args],
        { cwd, env, timeout: 30_000 },
        (err, stdout, stderr) =>
          ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      if (o.input !== undefined) child.stdin?.end(o.input);
    });

  beforeAll(async () => {
    swarm = await startControlSwarm({ prefix: 'ctlcli' });
    addr = `127.0.0.1:${swarm.coordinator.grpcPort}`;
    cwd = mkdtempSync(join(tmpdir(), 'arswarm-cli-'));
    writeFileSync(join(cwd, 'lr.diff'), knobDiff(swarm.repoDir, 'LEARNING_RATE', '0.002'));
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('submits patches from a file and from stdin, and refuses a duplicate', async () => {
    // One after the other, so the ids are known: c00001 the learning rate, c00002 the warm-up.
    const file = await cli(
      ['submit', '--title', 'double the learning rate', '--hypothesis', 'far below the optimum', 'lr.diff'],
      { role: 'reviewer' },
    );
    const stdin = await cli(['submit', '-t', 'two warm-up steps', '--json', '-'], {
      role: 'admin',
      input: knobDiff(swarm.repoDir, 'WARMUP_STEPS', '2'),
    });
    expect(file.stderr).toBe('');
    expect(file.code).toBe(0);
    expect(file.stdout).toMatch(/^c00001 accepted against [0-9a-f]{7}/);
    expect(stdin.code).toBe(0);
    expect(JSON.parse(stdin.stdout)).toMatchObject({ id: 'c00002' });
    const dup = await cli(['submit', '-t', 'same again', 'lr.diff'], { role: 'reviewer' });
    expect(dup.code).toBe(2);
    expect(dup.stderr).toContain('same change as c00001');
  }, 40_000);

  it('exits 5 without a token or with a weak one, 4 when the coordinator is unreachable, 3 for unknown ids', async () => {
    const [none, viewer, down, missing, bad] = await Promise.all([
      cli(['status']),
      cli(['review', 'approve', 'c00001', '-m', 'x'], { role: 'viewer' }),
      cli(['status', '--addr', '127.0.0.1:1'], { role: 'viewer' }),
      cli(['show', 'c99999'], { role: 'viewer' }),
      cli(['review', 'merge', 'c00001'], { role: 'reviewer' }),
    ]);
    expect(none.code).toBe(5);
    expect(none.stderr).toContain('ARSWARM_TOKEN');
    expect(viewer.code).toBe(5);
    expect(viewer.stderr).toContain('needs the reviewer role');
    expect(down.code).toBe(4);
    expect(down.stderr).toContain('cannot reach the coordinator at 127.0.0.1:1');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('no candidate "c99999"');
    expect(bad.code).toBe(2);
  }, 40_000);

  it('lists, shows and diffs candidates', async () => {
    const [ls, lsJson, diff] = await Promise.all([
      cli(['ls'], { role: 'viewer' }),
      cli(['ls', '--json', '--proposer', 'human'], { role: 'viewer' }),
      cli(['diff', 'c00001'], { role: 'viewer' }),
    ]);
    expect(ls.code).toBe(0);
    expect(ls.stdout.split('\n')[0]).toMatch(/^id\s+state\s+stage\s+proposer\s+last verdict\s+title$/);
    expect(ls.stdout).toContain('double the learning rate');
    const list = JSON.parse(lsJson.stdout) as { candidates: { candidate: { proposer: string } }[] };
    // The refused duplicate is in the journal too.
    expect(list.candidates.map((c) => c.candidate.proposer)).toEqual([
      'human:reviewer',
      'human:admin',
      'human:reviewer',
    ]);
    expect(diff.stdout).toMatch(/^--- a\/train\.py\n\+\+\+ b\/train\.py\n/);
  }, 40_000);

  it(
    'shows the review queue with evidence, trials and logs once the ladder is passed',
    async () => {
      await waitFor(
        () =>
          [...swarm.coordinator.ledger.state.candidates.values()].filter(
            (v) => v.state === CandidateState.REVIEW,
          ).length === 2 || undefined,
        'two candidates in review',
        LADDER_TIMEOUT_MS,
      );
      const [review, reviewJson, show] = await Promise.all([
        cli(['review'], { role: 'viewer' }),
        cli(['review', '--json'], { role: 'viewer' }),
        cli(['show', 'c00001', '--json'], { role: 'viewer' }),
      ]);
      expect(review.stdout).toMatch(/c00001 {2}double the learning rate/);
      expect(review.stdout).toMatch(/screen\s+promote\s+\+0\.\d{4} ± 0\.\d{4}\s+1\s+1\s+cpu/);
      expect((JSON.parse(reviewJson.stdout) as { items: unknown[] }).items).toHaveLength(2);
      const trial = (JSON.parse(show.stdout) as { results: { trialId: string }[] }).results[0]!.trialId;
      const [text, logs, logsMissing] = await Promise.all([
        cli(['show', 'c00001'], { role: 'viewer' }),
        cli(['logs', trial], { role: 'viewer' }),
        cli(['logs', 'no.such.trial'], { role: 'viewer' }),
      ]);
      expect(text.stdout).toContain('far below the optimum');
      expect(text.stdout).toMatch(/confirm\s+promote/);
      expect(text.stdout).toContain(trial);
      expect(logs.stdout).toMatch(/val_bpb: +\d\.\d+/);
      expect(logs.stderr).toContain(`${trial}: ok on w`);
      expect(logsMissing.code).toBe(3);
    },
    LADDER_TIMEOUT_MS + 30_000,
  );

  it('approves (merging) and rejects with notes', async () => {
    const approve = await cli(['review', 'approve', 'c00001', '-m', 'clear win'], { role: 'reviewer' });
    expect(approve.code).toBe(0);
    const commit = /merged as ([0-9a-f]{7})/.exec(approve.stdout)?.[1];
    expect(commit).toBeDefined();
    expect(branchHead(swarm).startsWith(commit!)).toBe(true);
    const reject = await cli(['review', 'reject', 'c00002', '-m', 'not now', '--json'], { role: 'admin' });
    expect(JSON.parse(reject.stdout)).toMatchObject({
      id: 'c00002',
      state: 'CANDIDATE_STATE_REJECTED',
      reviewer: 'admin',
    });
    const again = await cli(['review', 'approve', 'c00002'], { role: 'admin' });
    expect(again.code).toBe(2);
  }, 40_000);

  it('prints status, results.tsv and the report', async () => {
    const out = join(cwd, 'results.tsv');
    const [status, statusJson, exp, extra, report] = await Promise.all([
      cli(['status'], { role: 'viewer' }),
      cli(['status', '--json'], { role: 'viewer' }),
      cli(['export', '-o', out], { role: 'viewer' }),
      cli(['export', '--extra'], { role: 'viewer' }),
      cli(['report'], { role: 'viewer' }),
    ]);
    expect(status.stdout).toMatch(/^branch arswarm\/main @ [0-9a-f]{7} {2}val_bpb \d\.\d{6}/);
    expect(status.stdout).toMatch(/workers 2/);
    expect(JSON.parse(statusJson.stdout)).toMatchObject({ merges: '1', mergePolicy: 'review' });
    expect(exp.stderr).toMatch(/rows written to/);
    const tsv = readFileSync(out, 'utf8').split('\n');
    expect(tsv[0]).toBe('commit\tval_bpb\tmemory_gb\tstatus\tdescription');
    expect(tsv.some((r) => r.endsWith('\tkeep\tdouble the learning rate'))).toBe(true);
    expect(extra.stdout.split('\n')[0]).toContain('\tcandidate\tproposer\tstage\tdelta\tsigma\tn');
    expect(report.stdout).toMatch(/screen -> confirm\s+2\s+-\s+2\s+2 \(100%\)/);
  }, 40_000);

  it('pauses, resumes and scales with an admin token only', async () => {
    const [weak, noScaler] = await Promise.all([
      cli(['pause'], { role: 'reviewer' }),
      cli(['scale', '1'], { role: 'admin' }),
    ]);
    expect(weak.code).toBe(5);
    expect(noScaler.code).toBe(2);
    expect(noScaler.stderr).toContain('no worker scaler');
    expect((await cli(['pause', '-r', 'maintenance'], { role: 'admin' })).stdout).toContain('paused');
    expect(swarm.coordinator.ledger.state.paused).toBe(true);
    expect((await cli(['resume'], { role: 'admin' })).stdout).toContain('resumed');
    expect(swarm.coordinator.ledger.state.paused).toBe(false);
    const local = new LocalWorkers({
      bin: BIN,
      workerToken: swarm.coordinator.api.workerToken,
      natsUrl: swarm.nats.url,
      codeAddr: addr,
      prefix: swarm.config.swarm.prefix,
      workDir: join(swarm.dir, 'scaled'),
      killAfterMs: 5000,
    });
    swarm.coordinator.useScaler(local);
    try {
      const r = await cli(['scale', '1', '--json'], { role: 'admin' });
      expect(JSON.parse(r.stdout)).toEqual({ pool: 'local', desired: 1 });
      expect(local.count).toBe(1);
      expect((await cli(['scale', 'many'], { role: 'admin' })).code).toBe(2);
    } finally {
      await local.stopAll();
    }
  }, 40_000);

  it('reads address and token from a CLI config file', async () => {
    mkdirSync(join(cwd, '.arswarm'), { recursive: true });
    writeFileSync(join(cwd, '.arswarm', 'cli.yaml'), `addr: ${addr}\ntoken: ${TOKENS.admin}\n`);
    const r = await cli(['whoami'], { env: { ARSWARM_ADDR: '' } });
    expect(r.stdout.trim()).toBe('admin (admin)');
    // Flags win over the file.
    const viewer = await cli(['whoami', '--token', TOKENS.viewer], { env: { ARSWARM_ADDR: '' } });
    expect(viewer.stdout.trim()).toBe('viewer (viewer)');
  }, 40_000);
});
