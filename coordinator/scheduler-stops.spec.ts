/**
 * How the scheduler ends a stage on a mid-slot stop: a recorded TrialStopped
 * rejects the candidate's stage with the stop's reason, naming the stopped
 * trial, with no metric fields (the look is in the intermediate metric's
 * units); a STOPPED result that no TrialStopped stands behind is not
 * evidence, so the replicate is queued again like an infra failure. Real
 * parts: the landscape target repo, the trial factory, an in-memory ledger.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateSchema, CandidateState, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { TrialStatus, type Trial } from '../gen/arswarm/v1/trial_pb.js';
import { loadConfig } from '../common/config-load.js';
import type { Config } from '../common/config.js';
import { dedupeIds } from '../common/subjects.js';
import { Intake } from './intake/index.js';
import { Ledger, memoryStore } from './ledger/ledger.js';
import { Merger } from './merger.js';
import { TargetRepo } from './repo.js';
import { Scheduler } from './scheduler.js';
import { TrialFactory } from './trial-factory.js';

const ROOT = join(import.meta.dirname, '..');

describe('scheduler and mid-slot stops', () => {
  let dir: string;
  let config: Config;
  let repo: TargetRepo;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-stops-'));
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

  it('rejects on a recorded stop and retries a STOPPED result without one', async () => {
    const stages = config.stages.map((s) => s.name);
    const ledger = await Ledger.open(memoryStore(), stages);
    const head = await repo.head();
    await ledger.append({ case: 'swarmStarted', value: { branch: config.swarm.branch, head } });
    await ledger.append({ case: 'swarmPaused', value: { by: 'test', reason: 'these candidates only' } });
    const train = (await repo.readFile(head, 'train.py'))!;
    for (const [id, to] of [
      ['c-stopped', 'WARMUP_STEPS = 50'],
      ['c-rogue', 'WARMUP_STEPS = 20'],
    ] as const) {
      const diff = await repo.makeDiff(head, [
        { path: 'train.py', content: train.replace('WARMUP_STEPS = 0', to) },
      ]);
      await ledger.append({
        case: 'candidateProposed',
        value: {
          candidate: create(CandidateSchema, { id, parentCommit: head, diff, title: id, proposer: 'test' }),
        },
      });
    }
    const queued: Trial[] = [];
    const scheduler = new Scheduler({
      config,
      ledger,
      factory: new TrialFactory(config, repo),
      merger: new Merger(repo, config),
      intake: new Intake(config, repo, ledger, [], () => undefined, { background: false }),
      publish: async (t) => {
        queued.push(t);
      },
      fleet: () => [{ gpuClass: 'cpu', memoryMb: 0, workers: 1 }],
      workerCount: () => 1,
      log: () => undefined,
    });
    await scheduler.tick();
    const first = (id: string) => queued.find((t) => t.candidateId === id)!;
    const stopped = first('c-stopped');
    const rogue = first('c-rogue');
    expect(stopped.target?.progress?.pattern).toBe(config.target.progress.pattern);
    expect(stopped.target?.progress?.lowerIsBetter).toBe(true);

    const reason = 'stopped at 30% of the slot: 4.1 vs baseline 3.6 (n 3)';
    await ledger.append(
      {
        case: 'trialStopped',
        value: {
          trialId: stopped.id,
          candidateId: 'c-stopped',
          stage: 'screen',
          gpuClass: 'cpu',
          workerId: 'w1',
          reason,
          evidence: { look: 0.3, candidateValue: 4.1, baselineMean: 3.6, n: 3, worseBy: 0.5, threshold: 0.2 },
        },
      },
      dedupeIds.trialStopped(stopped.id),
    );
    for (const t of [stopped, rogue])
      await ledger.append({
        case: 'trialFinished',
        value: {
          result: {
            trialId: t.id,
            status: TrialStatus.STOPPED,
            reason: t === stopped ? reason : 'stopped by nobody the ledger knows',
            gpuClass: 'cpu',
            runMs: 1000n,
          },
        },
      });
    const before = queued.length;
    await scheduler.tick();

    const s = ledger.state;
    const v = s.candidates.get('c-stopped')!;
    expect(v.state).toBe(CandidateState.REJECTED);
    expect(v.verdicts).toHaveLength(1);
    expect(v.verdicts[0]).toMatchObject({
      kind: VerdictKind.REJECT,
      stage: 'screen',
      reason,
      trialIds: [stopped.id],
      gpuClass: 'cpu',
      n: 0,
      delta: 0,
      candidateMean: 0,
    });

    // No evidence behind the rogue STOPPED: no verdict, the replicate runs again.
    const r = s.candidates.get('c-rogue')!;
    expect(r.state).toBe(CandidateState.ACTIVE);
    expect(r.verdicts).toEqual([]);
    const retried = queued.slice(before).filter((t) => t.candidateId === 'c-rogue');
    expect(retried).toHaveLength(1);
    expect(retried[0]!.replicate).toBe(rogue.replicate);
    expect(retried[0]!.attempt).toBe(rogue.attempt + 1);
    expect(queued.slice(before).filter((t) => t.candidateId === 'c-stopped')).toEqual([]);
  });
});
