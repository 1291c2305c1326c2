/**
 * One candidate whose step throws must not stop a tick: the others are still
 * queued, the head's baselines still fed, the failure is visible and the
 * candidate is retried on the next tick. Real parts: the landscape target
 * repo, the trial factory, the merger, an in-memory ledger; the fault is a
 * queue that refuses one candidate's trials, until it takes them again.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateSchema } from '../gen/arswarm/v1/candidate_pb.js';
import { TrialKind, type Trial } from '../gen/arswarm/v1/trial_pb.js';
import { loadConfig } from '../common/config-load.js';
import type { Config } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import { Intake } from './intake/index.js';
import { Ledger, memoryStore } from './ledger/ledger.js';
import { Merger } from './merger.js';
import { TargetRepo } from './repo.js';
import { Scheduler } from './scheduler.js';
import { TrialFactory } from './trial-factory.js';

const ROOT = join(import.meta.dirname, '..');

describe('scheduler tick: per-candidate error isolation', () => {
  let dir: string;
  let config: Config;
  let repo: TargetRepo;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-tick-'));
    cpSync(join(ROOT, 'examples', 'landscape'), join(dir, 'target'), {
      recursive: true,
      filter: (p) => !p.includes('.arswarm'),
    });
    config = loadConfig(join(dir, 'target', 'arswarm.yaml')).config;
    config.swarm = { ...config.swarm, merge_policy: 'auto', max_trials: 0 };
    repo = await TargetRepo.open({
      sourceDir: join(dir, 'target'),
      stateDir: join(dir, 'state'),
      branch: config.swarm.branch,
      base: config.target.base,
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('feeds the other candidates and the baselines, shows the failure, and retries it next tick', async () => {
    const stages = config.stages.map((s) => s.name);
    const ledger = await Ledger.open(memoryStore(), stages);
    const head = await repo.head();
    await ledger.append({ case: 'swarmStarted', value: { branch: config.swarm.branch, head } });
    // No proposals: the candidates below are the only ones.
    await ledger.append({ case: 'swarmPaused', value: { by: 'test', reason: 'two candidates only' } });
    const train = (await repo.readFile(head, 'train.py'))!;
    const propose = async (id: string, from: string, to: string) => {
      const diff = await repo.makeDiff(head, [{ path: 'train.py', content: train.replace(from, to) }]);
      expect(diff).not.toBe('');
      await ledger.append({
        case: 'candidateProposed',
        value: {
          candidate: create(CandidateSchema, {
            id,
            parentCommit: head,
            diff,
            title: id,
            hypothesis: id,
            proposer: 'test',
          }),
        },
      });
    };
    // The broken one first: a tick that stopped at it would never reach the other.
    await propose('c-broken', 'WARMUP_STEPS = 0', 'WARMUP_STEPS = 50');
    await propose('c-fine', 'WARMUP_STEPS = 0', 'WARMUP_STEPS = 20');

    const queued: Trial[] = [];
    let refusing = true;
    const logs: string[] = [];
    const scheduler = new Scheduler({
      config,
      ledger,
      factory: new TrialFactory(config, repo),
      merger: new Merger(repo, config),
      intake: new Intake(config, repo, ledger, [], () => undefined, { background: false }),
      publish: async (t) => {
        if (refusing && t.candidateId === 'c-broken')
          throw new ArswarmError(Code.InvalidArgument, `queue refuses ${t.id}`);
        queued.push(t);
      },
      fleet: () => [{ gpuClass: 'cpu', memoryMb: 0, workers: 1 }],
      workerCount: () => 1,
      log: (m) => logs.push(m),
    });
    const candidateTrials = (id: string) => queued.filter((t) => t.candidateId === id);

    await scheduler.tick();
    expect(candidateTrials('c-fine').length).toBe(config.stages[0]!.replicates);
    expect(candidateTrials('c-broken')).toEqual([]);
    // The head's baselines at every stage were still queued after the failure.
    const baselineStages = new Set(
      queued.filter((t) => t.kind === TrialKind.BASELINE).map((t) => t.stage?.name),
    );
    expect([...baselineStages].sort()).toEqual([...stages].sort());
    expect(scheduler.schedulingFailures).toBe(1);
    expect(scheduler.schedulingErrors()).toEqual([
      expect.stringMatching(/^candidate c-broken cannot be scheduled \(1 tick\(s\) so far\): queue refuses /),
    ]);
    expect(logs.filter((l) => l.startsWith('c-broken: scheduling failed'))).toHaveLength(1);

    // Retried on the next tick: counted again, logged once.
    await scheduler.tick();
    expect(scheduler.schedulingFailures).toBe(2);
    expect(scheduler.schedulingErrors()[0]).toMatch(/\(2 tick\(s\) so far\)/);
    expect(logs.filter((l) => l.startsWith('c-broken: scheduling failed'))).toHaveLength(1);

    // Once the fault is gone the next tick queues it and the warning clears.
    refusing = false;
    await scheduler.tick();
    expect(candidateTrials('c-broken').length).toBe(config.stages[0]!.replicates);
    expect(scheduler.schedulingErrors()).toEqual([]);
    expect(logs).toContain('c-broken: scheduling works again');
  });

  it('ends the tick on a transport failure, which every other candidate would meet too', async () => {
    const stages = config.stages.map((s) => s.name);
    const ledger = await Ledger.open(memoryStore(), stages);
    const head = await repo.head();
    await ledger.append({ case: 'swarmStarted', value: { branch: config.swarm.branch, head } });
    await ledger.append({ case: 'swarmPaused', value: { by: 'test', reason: 'one candidate' } });
    const train = (await repo.readFile(head, 'train.py'))!;
    const diff = await repo.makeDiff(head, [
      { path: 'train.py', content: train.replace('WARMUP_STEPS = 0', 'WARMUP_STEPS = 30') },
    ]);
    await ledger.append({
      case: 'candidateProposed',
      value: { candidate: create(CandidateSchema, { id: 'c1', parentCommit: head, diff, title: 't' }) },
    });
    const scheduler = new Scheduler({
      config,
      ledger,
      factory: new TrialFactory(config, repo),
      merger: new Merger(repo, config),
      intake: new Intake(config, repo, ledger, [], () => undefined, { background: false }),
      publish: async () => {
        throw new ArswarmError(Code.Unavailable, 'NATS is away');
      },
      fleet: () => [{ gpuClass: 'cpu', memoryMb: 0, workers: 1 }],
      workerCount: () => 1,
      log: () => undefined,
    });
    await expect(scheduler.tick()).rejects.toThrow(/NATS is away/);
    expect(scheduler.schedulingErrors()).toEqual([]);
  });
});
