/**
 * The autoresearch-shaped target on CPU: train.py imports TIME_BUDGET from the
 * locked prepare.py, and the ladder's top rung trains twice as long by
 * rewriting that constant per stage. Trials are built by the coordinator's own
 * TrialFactory (locked hashes per parent and stage) over a real git repo, and
 * run by a real `arswarm worker` process against a real nats-server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config-load.js';
import type { Config } from '../../common/config.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { sha256 } from '../../common/git.js';
import { ANY_GPU_CLASS } from '../../common/subjects.js';
import { Coordinator } from '../../coordinator/coordinator.js';
import { TargetRepo } from '../../coordinator/repo.js';
import { TrialFactory } from '../../coordinator/trial-factory.js';
import { ConstantOverrideSchema, TrialSchema, TrialStatus, type Trial } from '../../gen/arswarm/v1/trial_pb.js';
import { commitFiles, Harness, type StageInit, type TrialInit } from '../support/worker-harness.js';
import { examplePath } from './support.js';

const FILES = ['train.py', 'prepare.py', 'pyproject.toml', 'setup_env.py'];

let h: Harness;
let config: Config;
let factory: TrialFactory;
let repo: TargetRepo;
let prepare: string;
let setupLog: string;

beforeAll(async () => {
  config = structuredClone(loadConfig(examplePath('autoresearch-mini', 'arswarm.yaml')).config);
  const files = Object.fromEntries(FILES.map((f) => [f, readFileSync(examplePath('autoresearch-mini', f), 'utf8')]));
  prepare = files['prepare.py']!;
  h = new Harness({ files, ackWaitMs: 30_000 });
  setupLog = join(h.dir, 'setup.log');
  config.target.env.ARSWARM_MINI_SETUP_LOG = setupLog;
  config.swarm.prefix = h.names.prefix;
  // The harness publishes the ladder the factory builds, so workers see the example's stages.
  const stages = config.stages.map((s, i) => ({ ...s, index: i }));
  Object.defineProperty(h, 'stages', {
    get: (): StageInit[] =>
      stages.map((s) => ({
        name: s.name,
        index: s.index,
        env: s.env,
        budgetSeconds: s.budget_seconds,
        timeoutSeconds: s.timeout_seconds,
      })),
  });
  await h.start();
  repo = await TargetRepo.open({ sourceDir: h.repo, stateDir: join(h.dir, 'coord'), branch: 'arswarm/main', base: 'HEAD' });
  factory = new TrialFactory(config, repo);
  h.spawnWorker('mini', ['--gpus', 'none']);
}, 60_000);

afterAll(async () => {
  await repo?.close();
  await h?.stop();
});

async function run(trials: Trial[], timeoutMs = 40_000) {
  for (const t of trials) await h.queue(t as unknown as TrialInit, t.stage!.name, ANY_GPU_CLASS);
  return h.waitResults(
    trials.map((t) => t.id),
    timeoutMs,
  );
}

const baseline = (stageIndex: number, replicate: number, parent = h.head) =>
  factory.baselineTrial({ parent, stageIndex, gpuClass: ANY_GPU_CLASS, replicate, attempt: 1 });

describe('autoresearch-mini: TIME_BUDGET per rung in a locked file', () => {
  it('runs each rung with its own TIME_BUDGET, with locked hashes per stage that match, and prepares the env once', async () => {
    const trials: Trial[] = [];
    for (const stage of [0, 1, 2]) for (const r of [0, 1]) trials.push(await baseline(stage, r));
    const results = await run(trials);

    const at300 = sha256(Buffer.from(prepare));
    const at600 = sha256(Buffer.from(prepare.replace(/^TIME_BUDGET = 300\b/m, 'TIME_BUDGET = 600')));
    expect(at600).not.toBe(at300);
    for (const t of trials) {
      const r = results.get(t.id)!;
      const s = config.stages[t.stage!.index]!;
      expect(r.status, `${t.id}: ${r.reason} ${r.logTail}`).toBe(TrialStatus.OK);
      // train.py saw the rewritten constant: its own count of training time says so.
      expect(r.metrics.training_seconds, t.id).toBe(s.budget_seconds);
      expect(r.metrics.depth, t.id).toBe(Number(s.env.DEPTH));
      expect(r.trial!.target!.overrides.map((o) => [o.file, o.name, o.value])).toEqual([
        ['train.py', 'DEPTH', s.env.DEPTH],
        ['prepare.py', 'TIME_BUDGET', String(s.budget_seconds)],
      ]);
      // What the coordinator sent is the hash of prepare.py as the stage's rewrite leaves it.
      expect(r.trial!.target!.lockedSha256['prepare.py'], t.id).toBe(s.budget_seconds === 600 ? at600 : at300);
      expect(r.trial!.target!.lockedSha256['pyproject.toml']).toBe(sha256(readFileSync(join(h.repo, 'pyproject.toml'))));
    }
    expect(config.stages.map((s) => s.budget_seconds)).toEqual([300, 300, 600]);

    // Six trials, one environment: the setup ran once, and every trial ran its python.
    expect(readFileSync(setupLog, 'utf8').trim().split('\n')).toHaveLength(1);
    const envs = join(h.dir, 'work-mini', 'envs');
    const ready = readdirSync(envs).filter((f) => f.endsWith('.ready'));
    expect(ready).toHaveLength(1);
    expect(readFileSync(setupLog, 'utf8')).toContain(join(envs, ready[0]!.replace(/\.ready$/, '')));
  }, 60_000);

  it('fails with integrity a trial whose prepare.py differs from what the coordinator hashed for its stage', async () => {
    // The work tree's prepare.py differs: a commit whose locked file changed, with the hashes of the original.
    const tamperedCommit = commitFiles(h.repo, { 'prepare.py': prepare.replace('rng.gauss(0, 0.002)', 'rng.gauss(0, 0.0)') });
    const tree = create(TrialSchema, { ...(await baseline(2, 10)), id: 'tampered-tree', parentCommit: tamperedCommit });
    // The constant differs from the one hashed (a forged override, or a worker that rewrote it otherwise).
    const forged = await baseline(2, 11);
    forged.id = 'forged-override';
    forged.target!.overrides = forged.target!.overrides.map((o) =>
      create(ConstantOverrideSchema, { ...o, value: o.name === 'TIME_BUDGET' ? '6000' : o.value }),
    );
    // The top rung's rewrite checked against the lower rung's hashes.
    const crossed = await baseline(2, 12);
    crossed.id = 'crossed-stage';
    crossed.target!.lockedSha256 = { ...(await baseline(0, 12)).target!.lockedSha256 };
    // A patch may not touch the locked file at all, whatever it sets.
    const patched = await factory.candidateTrial({
      candidateId: 'c-budget',
      parent: h.head,
      diff: [
        'diff --git a/prepare.py b/prepare.py',
        '--- a/prepare.py',
        '+++ b/prepare.py',
        '@@ -20 +20 @@',
        '-TIME_BUDGET = 300  # training time budget in seconds',
        '+TIME_BUDGET = 3000  # training time budget in seconds',
        '',
      ].join('\n'),
      stageIndex: 0,
      replicate: 0,
      attempt: 1,
    });
    const results = await run([tree, forged, crossed, patched]);
    for (const id of [tree.id, forged.id, crossed.id]) {
      const r = results.get(id)!;
      expect(r.status, `${id}: ${r.reason}`).toBe(TrialStatus.INTEGRITY);
      expect(r.reason, id).toMatch(/locked file prepare\.py does not match its recorded sha256/);
    }
    const p = results.get(patched.id)!;
    expect(p.status).toBe(TrialStatus.INTEGRITY);
    expect(p.reason).toMatch(/patch refused.*prepare\.py/);
  }, 60_000);

  it('refuses at coordinator start a constant its file does not assign, naming the field', async () => {
    const bad = structuredClone(config);
    bad.target.constants.WIDTH = 'train.py';
    for (const s of bad.stages) s.env.WIDTH = '256';
    bad.swarm.prefix = `${h.names.prefix}x`;
    const err = await Coordinator.start({
      config: bad,
      repoDir: h.repo,
      stateDir: join(h.dir, 'refused'),
      natsUrl: h.nats.url,
      grpcPort: 0,
      httpPort: 0,
      log: () => undefined,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ArswarmError);
    expect((err as ArswarmError).code).toBe(Code.FailedPrecondition);
    expect((err as ArswarmError).field).toBe('target.constants.WIDTH');
    expect((err as ArswarmError).message).toMatch(
      /^target\.constants\.WIDTH: train\.py has no module-level WIDTH = \.\.\. assignment at [0-9a-f]{7}$/,
    );
  }, 30_000);
});
