/**
 * Test support for scheduler specs: a copy of the landscape target with its
 * config (auto merges, no trial cap), an in-memory ledger whose swarm is
 * started and paused (so the candidates a spec proposes are the only ones),
 * and a Scheduler over the real trial factory, merger and intake whose queue
 * is the spec's `publish`.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { CandidateSchema } from '../../gen/arswarm/v1/candidate_pb.js';
import type { Trial } from '../../gen/arswarm/v1/trial_pb.js';
import { loadConfig } from '../../common/config-load.js';
import type { Config } from '../../common/config.js';
import { Intake } from '../../coordinator/intake/index.js';
import { Ledger, memoryStore } from '../../coordinator/ledger/ledger.js';
import { Merger } from '../../coordinator/merger.js';
import { TargetRepo } from '../../coordinator/repo.js';
import { Scheduler } from '../../coordinator/scheduler.js';
import { TrialFactory } from '../../coordinator/trial-factory.js';

const ROOT = join(import.meta.dirname, '..', '..');

export interface LandscapeCopy {
  readonly config: Config;
  readonly repo: TargetRepo;
  /** Removes the copy. */
  remove(): void;
}

/** A fresh copy of examples/landscape, opened as the coordinator opens a target. */
export async function landscapeCopy(tmpPrefix: string): Promise<LandscapeCopy> {
  const dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  cpSync(join(ROOT, 'examples', 'landscape'), join(dir, 'target'), {
    recursive: true,
    filter: (p) => !p.includes('.arswarm'),
  });
  const config = loadConfig(join(dir, 'target', 'arswarm.yaml')).config;
  config.swarm = { ...config.swarm, merge_policy: 'auto', max_trials: 0 };
  const repo = await TargetRepo.open({
    sourceDir: join(dir, 'target'),
    stateDir: join(dir, 'state'),
    branch: config.swarm.branch,
    base: config.target.base,
  });
  return { config, repo, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An in-memory ledger of a started, paused swarm on the copy's head. */
export async function pausedLedger(
  t: LandscapeCopy,
  reason: string,
): Promise<{ ledger: Ledger; head: string; train: string }> {
  const ledger = await Ledger.open(
    memoryStore(),
    t.config.stages.map((s) => s.name),
  );
  const head = await t.repo.head();
  await ledger.append({ case: 'swarmStarted', value: { branch: t.config.swarm.branch, head } });
  // No proposals: the candidates the spec proposes are the only ones.
  await ledger.append({ case: 'swarmPaused', value: { by: 'test', reason } });
  return { ledger, head, train: (await t.repo.readFile(head, 'train.py'))! };
}

/** Proposes a candidate that rewrites `from` to `to` in train.py at `head`. */
export async function proposeEdit(
  t: LandscapeCopy,
  ledger: Ledger,
  head: string,
  id: string,
  from: string,
  to: string,
): Promise<void> {
  const train = (await t.repo.readFile(head, 'train.py'))!;
  const diff = await t.repo.makeDiff(head, [{ path: 'train.py', content: train.replace(from, to) }]);
  if (!diff) throw new Error(`proposeEdit ${id}: "${from}" -> "${to}" changes nothing`);
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
}

/** A scheduler over the copy on one cpu worker, queueing through `publish`. */
export function schedulerOf(
  t: LandscapeCopy,
  ledger: Ledger,
  publish: (trial: Trial) => Promise<void>,
  log: (msg: string) => void = () => undefined,
): Scheduler {
  const { config, repo } = t;
  return new Scheduler({
    config,
    ledger,
    factory: new TrialFactory(config, repo),
    merger: new Merger(repo, config),
    intake: new Intake(config, repo, ledger, [], () => undefined, { background: false }),
    publish,
    fleet: () => [{ gpuClass: 'cpu', memoryMb: 0, workers: 1 }],
    workerCount: () => 1,
    log,
  });
}
