/**
 * ControlService over gRPC against a real coordinator (real nats-server,
 * worker processes, the landscape target): every method, tokens and roles,
 * unknown ids, and the review flow from submission to a merge on the shared
 * branch with the reviewer's name recorded.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { LocalWorkers } from '../coordinator/local-workers.js';
import { RESULTS_COLUMNS } from '../coordinator/results-tsv.js';
import type { Role } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import { createClient, type ServiceClient } from '../common/grpc.js';
import { BIN, type LocalSwarm } from './support/local-swarm.js';
import {
  branchHead,
  knobDiff,
  LADDER_TIMEOUT_MS,
  startControlSwarm,
  TOKENS,
  waitFor,
} from './support/control-swarm.js';

type Client = ServiceClient<(typeof ControlService)['method']>;

async function codeOf(p: Promise<unknown>): Promise<Code> {
  try {
    await p;
  } catch (err) {
    return ArswarmError.from(err).code;
  }
  throw new Error('call succeeded');
}

describe('ControlService over gRPC', () => {
  let swarm: LocalSwarm;
  const clients = {} as Record<Role | 'anonymous' | 'wrong', Client>;
  const events: Event[] = [];
  const watch = new AbortController();
  let watching: Promise<void>;
  let good = '';
  let other = '';

  beforeAll(async () => {
    swarm = await startControlSwarm({ prefix: 'ctlgrpc' });
    const addr = `127.0.0.1:${swarm.coordinator.grpcPort}`;
    for (const role of Object.keys(TOKENS) as Role[])
      clients[role] = createClient(ControlService, addr, { token: TOKENS[role] });
    clients.anonymous = createClient(ControlService, addr);
    clients.wrong = createClient(ControlService, addr, { token: 'not-a-token-at-all-0000' });
    watching = (async () => {
      for await (const ev of clients.viewer.watchEvents({ fromSeq: 1n }, { signal: watch.signal }))
        events.push(ev);
    })();
  }, 60_000);

  afterAll(async () => {
    watch.abort();
    await watching?.catch(() => undefined);
    for (const c of Object.values(clients)) c?.close();
    await swarm?.stop();
  });

  it('refuses calls without a token or with an unknown one', async () => {
    expect(await codeOf(clients.anonymous.getStatus({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(clients.wrong.getStatus({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(clients.wrong.approve({ id: 'c00001' }))).toBe(Code.Unauthenticated);
    const stream = (async () => {
      for await (const ev of clients.anonymous.watchEvents({ fromSeq: 1n })) void ev;
    })();
    expect(await codeOf(stream)).toBe(Code.Unauthenticated);
  });

  it('tells each token its name and role', async () => {
    for (const role of Object.keys(TOKENS) as Role[])
      expect(await clients[role].whoAmI({})).toMatchObject({ name: role, role });
  });

  it('keeps writes to their roles', async () => {
    const v = clients.viewer;
    expect(await codeOf(v.submitCandidate({ diff: 'x', title: 't' }))).toBe(Code.PermissionDenied);
    expect(await codeOf(v.approve({ id: 'c00001' }))).toBe(Code.PermissionDenied);
    expect(await codeOf(v.reject({ id: 'c00001' }))).toBe(Code.PermissionDenied);
    expect(await codeOf(v.setWorkers({ replicas: 1 }))).toBe(Code.PermissionDenied);
    expect(await codeOf(v.pause({}))).toBe(Code.PermissionDenied);
    expect(await codeOf(clients.reviewer.setWorkers({ replicas: 1 }))).toBe(Code.PermissionDenied);
    expect(await codeOf(clients.reviewer.pause({}))).toBe(Code.PermissionDenied);
    expect(await codeOf(clients.reviewer.resume({}))).toBe(Code.PermissionDenied);
  });

  it('accepts a person’s candidate and refuses invalid or duplicate ones with a reason', async () => {
    const diff = knobDiff(swarm.repoDir, 'LEARNING_RATE', '0.002');
    const r = await clients.reviewer.submitCandidate({
      diff,
      title: 'double the learning rate',
      hypothesis: 'the default is far below the optimum',
    });
    good = r.id;
    expect(r.parentCommit).toBe(branchHead(swarm));
    other = (
      await clients.admin.submitCandidate({
        diff: knobDiff(swarm.repoDir, 'WARMUP_STEPS', '2'),
        title: 'two warm-up steps',
        hypothesis: 'no warm-up hurts early steps',
      })
    ).id;
    const dup = clients.reviewer.submitCandidate({ diff, title: 'same idea again', hypothesis: '' });
    await expect(dup).rejects.toMatchObject({
      code: Code.AlreadyExists,
      message: expect.stringContaining(good),
    });
    const locked = `--- a/prepare.py\n+++ b/prepare.py\n@@ -1,1 +1,1 @@\n-x\n+y\n`;
    expect(
      await codeOf(clients.reviewer.submitCandidate({ diff: locked, title: 'touch the evaluation' })),
    ).toBe(Code.InvalidArgument);
    expect(await codeOf(clients.reviewer.submitCandidate({ diff: '', title: 'empty' }))).toBe(
      Code.InvalidArgument,
    );
    const c = await clients.viewer.getCandidate({ id: good });
    expect(c.summary?.candidate?.proposer).toBe('human:reviewer');
    expect(c.diff).toContain('+LEARNING_RATE = 0.002');
  });

  it('answers unknown ids with NotFound', async () => {
    expect(await codeOf(clients.viewer.getCandidate({ id: 'c99999' }))).toBe(Code.NotFound);
    expect(await codeOf(clients.viewer.getTrialLog({ trialId: 'nope' }))).toBe(Code.NotFound);
    expect(await codeOf(clients.reviewer.approve({ id: 'c99999' }))).toBe(Code.NotFound);
    expect(await codeOf(clients.reviewer.reject({ id: 'c99999' }))).toBe(Code.NotFound);
  });

  it('lists candidates with filters and pages', async () => {
    const all = await clients.viewer.listCandidates({});
    expect(all.candidates.map((c) => c.candidate?.id)).toEqual(expect.arrayContaining([good, other]));
    const human = await clients.viewer.listCandidates({ proposer: 'human' });
    expect(human.candidates.length).toBe(
      all.candidates.filter((c) => c.candidate?.proposer.startsWith('human')).length,
    );
    const page = await clients.viewer.listCandidates({ pageSize: 1 });
    expect(page.candidates).toHaveLength(1);
    expect(page.nextPageToken).toBe('1');
    const next = await clients.viewer.listCandidates({ pageSize: 1, pageToken: page.nextPageToken });
    expect(next.candidates[0]?.candidate?.id).not.toBe(page.candidates[0]?.candidate?.id);
    expect(await codeOf(clients.viewer.listCandidates({ stage: 'nope' }))).toBe(Code.InvalidArgument);
    expect(await codeOf(clients.viewer.listCandidates({ pageToken: 'x' }))).toBe(Code.InvalidArgument);
  });

  it(
    'brings both candidates to review with evidence for every stage',
    async () => {
      const items = await waitFor(
        async () => {
          const r = await clients.viewer.listReview({});
          return r.items.length >= 2 ? r.items : undefined;
        },
        'two candidates in review',
        LADDER_TIMEOUT_MS,
      );
      const item = items.find((i) => i.summary?.candidate?.id === good)!;
      expect(item.onHead).toBe(true);
      expect(item.evidence.map((e) => e.stage)).toEqual(['screen', 'confirm', 'scale']);
      for (const e of item.evidence) {
        expect(e.kind).toBe(VerdictKind.PROMOTE);
        expect(e.delta).toBeGreaterThan(0);
        expect(e.n).toBe(e.seeds.length);
        expect(e.gpuClass).toBe('cpu');
        expect(e.gpuSeconds).toBeGreaterThan(0);
      }
      expect(item.evidence[1]!.n).toBeGreaterThanOrEqual(3);
      expect(item.diff).toContain('LEARNING_RATE');
      const listed = await clients.viewer.listCandidates({ states: [CandidateState.REVIEW], stage: 'scale' });
      expect(listed.candidates.map((c) => c.candidate?.id).sort()).toEqual([good, other].sort());
    },
    LADDER_TIMEOUT_MS + 10_000,
  );

  it('returns a candidate with its trials, evidence and log tails', async () => {
    const c = await clients.viewer.getCandidate({ id: good });
    expect(c.summary?.state).toBe(CandidateState.REVIEW);
    expect(c.results.length).toBeGreaterThanOrEqual(6);
    expect(c.evidence).toHaveLength(3);
    const log = await clients.viewer.getTrialLog({ trialId: c.results[0]!.trialId });
    expect(log).toMatchObject({ finished: true, status: TrialStatus.OK, candidateId: good });
    expect(log.logTail).toMatch(/val_bpb:/);
  });

  it('approves with the token name as reviewer and merges onto the shared branch', async () => {
    const before = branchHead(swarm);
    const r = await clients.reviewer.approve({ id: good, note: 'clear win at every depth' });
    expect(r).toMatchObject({ id: good, state: CandidateState.MERGED, reviewer: 'reviewer' });
    expect(branchHead(swarm)).toBe(r.mergedCommit);
    expect(r.mergedCommit).not.toBe(before);
    expect(await codeOf(clients.reviewer.approve({ id: good }))).toBe(Code.FailedPrecondition);
    const decided = await waitFor(
      () => events.find((e) => e.body.case === 'reviewDecided' && e.body.value.candidateId === good),
      'the ReviewDecided event on the watch stream',
    );
    expect(decided.body.value).toMatchObject({
      approve: true,
      reviewer: 'reviewer',
      note: 'clear win at every depth',
    });
  });

  it('rejects with a note', async () => {
    const r = await clients.admin.reject({ id: other, note: 'not now' });
    expect(r).toMatchObject({ state: CandidateState.REJECTED, reviewer: 'admin' });
    expect((await clients.viewer.listReview({})).items).toHaveLength(0);
  });

  it('pauses and resumes, recording who', async () => {
    expect((await clients.admin.pause({ reason: 'maintenance' })).paused).toBe(true);
    expect((await clients.viewer.getStatus({})).paused).toBe(true);
    expect((await clients.admin.resume({})).paused).toBe(false);
    await waitFor(
      () => events.find((e) => e.body.case === 'swarmPaused' && e.body.value.by === 'admin'),
      'SwarmPaused by admin',
    );
  });

  it('scales workers through the coordinator’s scaler and records it', async () => {
    expect(await codeOf(clients.admin.setWorkers({ replicas: 1 }))).toBe(Code.FailedPrecondition);
    const local = new LocalWorkers({
      bin: BIN,
      workerToken: swarm.coordinator.api.workerToken,
      natsUrl: swarm.nats.url,
      codeAddr: `127.0.0.1:${swarm.coordinator.grpcPort}`,
      prefix: swarm.config.swarm.prefix,
      workDir: join(swarm.dir, 'scaled'),
      killAfterMs: 5000,
    });
    swarm.coordinator.useScaler(local);
    try {
      expect(await clients.admin.setWorkers({ replicas: 1 })).toMatchObject({
        pool: 'local',
        previous: 0,
        desired: 1,
      });
      expect(local.count).toBe(1);
      expect(await codeOf(clients.admin.setWorkers({ replicas: 1, pool: 'gpu-a100' }))).toBe(Code.NotFound);
      const st = await clients.viewer.getStatus({});
      expect(st.pools).toEqual([expect.objectContaining({ pool: 'local', desired: 1 })]);
      await waitFor(
        () =>
          events.find(
            (e) => e.body.case === 'workersScaled' && e.body.value.to === 1 && e.body.value.by === 'admin',
          ),
        'WorkersScaled event',
      );
    } finally {
      await local.stopAll();
    }
  });

  it('reports status with throughput, idle time and cost', async () => {
    const s = await clients.viewer.getStatus({});
    expect(s.merges).toBe(1n);
    expect(s.head).toBe(branchHead(swarm));
    expect(s.resultsPerMinute).toBeGreaterThan(0);
    expect(s.workers.length).toBeGreaterThanOrEqual(2);
    expect(s.mergePolicy).toBe('review');
    expect(s.stages.map((x) => x.name)).toEqual(['screen', 'confirm', 'scale']);
    expect(s.stages[0]!.finished).toBeGreaterThan(0);
  });

  it('exports results.tsv, with or without arswarm’s columns', async () => {
    const plain = await clients.viewer.exportResults({});
    const rows = plain.tsv.trim().split('\n');
    expect(rows[0]!.split('\t')).toEqual([...RESULTS_COLUMNS]);
    expect(rows.some((r) => r.includes('\tkeep\tdouble the learning rate'))).toBe(true);
    expect(rows.some((r) => r.includes('\tdiscard\ttwo warm-up steps'))).toBe(true);
    expect(plain.rows).toBe(rows.length - 1);
    const extra = await clients.viewer.exportResults({ extra: true });
    expect(extra.tsv.split('\n')[0]).toContain('\tcandidate\tproposer\tstage\tdelta\tsigma\tn');
  });

  it('reports how promotions held up between rungs', async () => {
    const r = await clients.viewer.getReport({});
    expect(r.stages.map((s) => s.name)).toEqual(['screen', 'confirm', 'scale']);
    expect(r.stages[0]!.promoted).toBe(2);
    expect(r.pairs.map((p) => [p.lower, p.upper, p.promoted, p.heldUp])).toEqual([
      ['screen', 'confirm', 2, 2],
      ['confirm', 'scale', 2, 2],
    ]);
    expect(r.merged).toBe(1n);
    expect(r.improvement).toBeGreaterThan(0);
  });

  it('gives the progress chart every trial and a step line of kept changes', async () => {
    const p = await clients.viewer.getProgress({});
    expect(p.stages.map((s) => s.stage)).toEqual(['screen', 'confirm', 'scale']);
    for (const s of p.stages) {
      expect(s.points.length).toBeGreaterThan(0);
      expect(s.points.map((x) => x.x)).toEqual(s.points.map((_, i) => i));
      expect(s.best[0]?.title).toBe('baseline');
      expect(s.best.at(-1)?.candidateId).toBe(good);
      expect(s.best.at(-1)!.metric).toBeLessThan(s.best[0]!.metric);
    }
  });

  it('replays the ledger from a sequence number', async () => {
    const seen: Event[] = [];
    const ac = new AbortController();
    for await (const ev of clients.viewer.watchEvents({ fromSeq: 1n }, { signal: ac.signal })) {
      seen.push(ev);
      if (ev.body.case === 'merged') ac.abort();
    }
    expect(seen[0]?.seq).toBe(1n);
    expect(seen[0]?.body.case).toBe('swarmStarted');
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => BigInt(i + 1)));
  }, 30_000);
});
