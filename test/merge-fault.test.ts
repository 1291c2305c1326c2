/**
 * The cause of the stalled default chaos run: a merge commit moved the
 * shared branch, then the `merged` event did not reach the ledger (NATS
 * restarting), or reached it with its acknowledgement lost. The scheduler
 * then tried to merge the same candidate onto the ledger's stale head on
 * every tick, the compare-and-swap failed, the tick threw before feeding
 * new work, and the branch stayed one commit ahead of the ledger until the
 * run timed out. Real parts: nats-server, the JetStream ledger, the target
 * repo, the merger and the scheduler; the faults are a real stream that
 * stops taking the subject, and a store that drops one acknowledgement.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateSchema, CandidateState, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { EventSchema, type Event } from '../gen/arswarm/v1/event_pb.js';
import { TrialKind, TrialSchema, TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { audit } from '../coordinator/audit.js';
import { ensureSwarmStreams } from '../coordinator/jetstream-setup.js';
import { Intake } from '../coordinator/intake/index.js';
import { jetStreamStore, Ledger, replay, type EventStore } from '../coordinator/ledger/ledger.js';
import { Merger } from '../coordinator/merger.js';
import { TargetRepo } from '../coordinator/repo.js';
import { Scheduler } from '../coordinator/scheduler.js';
import { TrialFactory } from '../coordinator/trial-factory.js';
import { decode, encode } from '../common/codec.js';
import { loadConfig } from '../common/config-load.js';
import type { Config } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import { startNatsServer, type NatsServer } from '../common/nats-server.js';
import { names as makeNames, type Names } from '../common/subjects.js';
import { ROOT } from './support/local-swarm.js';

const STAGES = ['screen', 'confirm', 'scale'];

describe('a merge whose ledger event fails', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const dirs: string[] = [];

  beforeAll(async () => {
    nats = await startNatsServer({});
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A swarm with one candidate that passed every stage, waiting to merge. */
  async function setup(prefix: string, wrap: (s: EventStore) => EventStore = (s) => s) {
    const dir = mkdtempSync(join(tmpdir(), 'arswarm-merge-fault-'));
    dirs.push(dir);
    cpSync(join(ROOT, 'examples', 'landscape'), join(dir, 'target'), {
      recursive: true,
      filter: (p) => !p.includes('.arswarm'),
    });
    const config: Config = loadConfig(join(dir, 'target', 'arswarm.yaml')).config;
    config.swarm = { ...config.swarm, prefix, merge_policy: 'auto', max_trials: 0 };
    const n = makeNames(prefix);
    await ensureSwarmStreams(nc, jsm, n);
    const repo = await TargetRepo.open({
      sourceDir: join(dir, 'target'),
      stateDir: join(dir, 'state'),
      branch: config.swarm.branch,
      base: config.target.base,
    });
    const store = wrap(jetStreamStore(js, jsm, n));
    const ledger = await Ledger.open(store, STAGES);
    const head = await repo.head();
    await ledger.append({ case: 'swarmStarted', value: { branch: config.swarm.branch, head } });
    // Paused: no proposals, so the only decision a tick can make is the merge.
    await ledger.append({ case: 'swarmPaused', value: { by: 'test', reason: 'merge only' } });
    const train = (await repo.readFile(head, 'train.py'))!;
    const diff = await repo.makeDiff(head, [
      { path: 'train.py', content: train.replace('WARMUP_STEPS = 0', 'WARMUP_STEPS = 50') },
    ]);
    const candidate = create(CandidateSchema, {
      id: 'c1',
      parentCommit: head,
      diff,
      title: 'warm up',
      hypothesis: 'a warm-up helps',
      proposer: 'test',
    });
    await ledger.append({ case: 'candidateProposed', value: { candidate } });
    // The top stage's evidence: one run of the candidate against the head it merges onto.
    const top = create(TrialSchema, {
      id: 'c1-top',
      kind: TrialKind.CANDIDATE,
      candidateId: 'c1',
      parentCommit: head,
      diff,
      stage: { name: STAGES.at(-1)! },
    });
    await ledger.append({ case: 'trialQueued', value: { trial: top } });
    await ledger.append({
      case: 'trialFinished',
      value: { result: { trialId: top.id, status: TrialStatus.OK, metric: 0.9, gpuClass: 'cpu' } },
    });
    for (const stage of STAGES)
      await ledger.append({
        case: 'verdict',
        value: {
          candidateId: 'c1',
          kind: VerdictKind.PROMOTE,
          stage,
          reason: 'test',
          delta: 0.01,
          trialIds: stage === STAGES.at(-1) ? [top.id] : [],
        },
      });
    expect(ledger.state.candidates.get('c1')?.state).toBe(CandidateState.REVIEW);
    const scheduler = new Scheduler({
      config,
      ledger,
      factory: new TrialFactory(config, repo),
      merger: new Merger(repo, config),
      intake: new Intake(config, repo, ledger, [], () => undefined, { background: false }),
      publish: async (t) => {
        await js.publish(n.trials(t.stage?.name ?? '', t.gpuClass), encode(TrialSchema, t), { msgID: t.id });
      },
      fleet: () => [{ gpuClass: 'cpu', memoryMb: 0, workers: 1 }],
      workerCount: () => 1,
      log: () => undefined,
    });
    return { n, repo, ledger, scheduler, head };
  }

  /** The stream's events, the branch audited against them, and a ledger rebuilt from them (a restart). */
  async function check(n: Names, repo: TargetRepo, ledger: Ledger) {
    const events: Event[] = [];
    for await (const ev of replay(js, jsm, n)) events.push(ev);
    const merged = events.filter((e) => e.body.case === 'merged');
    // Baselines of the new head are queued with no worker to run them: pending, not lost.
    const report = await audit(events, repo, { stageNames: STAGES, mergePolicy: 'auto', allowPending: true });
    const restarted = await Ledger.open(jetStreamStore(js, jsm, n), STAGES);
    expect(report.problems).toEqual([]);
    expect(report.branchConsistent).toBe(true);
    expect(merged).toHaveLength(1);
    expect(ledger.state.head).toBe(await repo.head());
    expect(restarted.state.head).toBe(ledger.state.head);
    expect(ledger.state.candidates.get('c1')?.state).toBe(CandidateState.MERGED);
  }

  it('records the merge once the ledger takes writes again, instead of retrying it forever', async () => {
    const { n, repo, ledger, scheduler, head } = await setup('mfault1');
    // The events stream stops taking its subject, as while nats-server restarts: appends fail.
    const info = await jsm.streams.info(n.eventsStream);
    await jsm.streams.update(n.eventsStream, { ...info.config, subjects: [`${n.events}_off`] });
    await expect(scheduler.tick()).rejects.toThrow();
    expect(await repo.head()).not.toBe(head);
    expect(ledger.state.head).toBe(head);
    await jsm.streams.update(n.eventsStream, { ...info.config, subjects: [n.events] });
    // The next ticks go on (they feed, queue baselines) and the ledger catches up with the branch.
    await scheduler.tick();
    await scheduler.tick();
    await check(n, repo, ledger);
  });

  it('applies a merge event that was stored though its acknowledgement was lost', async () => {
    let dropped = false;
    const { n, repo, ledger, scheduler, head } = await setup('mfault2', (s) => ({
      ...s,
      async append(data, dedupeId) {
        const ack = await s.append(data, dedupeId);
        if (!dropped && decode(EventSchema, data).body.case === 'merged') {
          dropped = true;
          throw new ArswarmError(Code.DeadlineExceeded, 'publish acknowledgement lost');
        }
        return ack;
      },
    }));
    await expect(scheduler.tick()).rejects.toThrow(/acknowledgement lost/);
    expect(dropped).toBe(true);
    expect(ledger.state.head).toBe(head);
    await scheduler.tick();
    await scheduler.tick();
    await check(n, repo, ledger);
  });
});
