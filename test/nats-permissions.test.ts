/**
 * NATS logins per role (common/nats-permissions.ts) on a real nats-server
 * configured as `arswarm up` configures its embedded one: a worker login can
 * pull and ack a trial, report a result, write its heartbeat and read the
 * ladder, but appending to the ledger, queueing trials, setting control flags
 * and creating or deleting streams fail with a permissions error; the
 * coordinator login can do all of it. For mid-slot stopping a worker login
 * publishes live progress and answers a stop request (by allow_responses, with
 * no right to publish to other inboxes or to stop trials itself). A real
 * Worker runs a trial with the worker login, and has one stopped mid-run, and
 * causes no violation; a wrong password is refused with a clear error that
 * does not quote it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../common/codec.js';
import { ArswarmError, Code } from '../common/errors.js';
import { sha256 } from '../common/git.js';
import { pullOne } from '../common/nats-pull.js';
import { natsConnectError } from '../common/nats-permissions.js';
import { DEFAULT_PROGRESS_PATTERN } from '../common/curve.js';
import {
  LadderSchema,
  StopTrialReplySchema,
  StopTrialRequestSchema,
  TrialProgressSchema,
  TrialResultSchema,
  TrialSchema,
  TrialStatus,
  WorkerHeartbeatSchema,
} from '../gen/arswarm/v1/trial_pb.js';
import { Worker } from '../worker/index.js';
import { SCREEN, startSecuredNats, type SecuredNats } from './support/secured-nats.js';
import { commitFiles, DEFAULT_FILES, gitIn, startCodeServer } from './support/worker-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'arswarm-natsperm-'));
const STAGE = { ...SCREEN, env: { DEPTH: '4' } };

let nats: SecuredNats;
let head = '';
let code: Awaited<ReturnType<typeof startCodeServer>>;
// Short names for what most tests use.
let n: SecuredNats['names'];
let coord: NatsConnection;
let coordJsm: SecuredNats['jsm'];
let kv: SecuredNats['kv'];
const violations = () => nats.violations();
const login: SecuredNats['login'] = (role, password) => nats.login(role, password);

/** Runs `fn`, which must fail; returns the error. */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('the operation succeeded');
}

/** A refused publish ends as a permissions error on the request, or as a timeout the server log explains. */
async function expectRefused(subject: string, fn: () => Promise<unknown>): Promise<void> {
  const err = await failure(fn);
  const refused = () => violations().some((l) => l.includes(`"${subject}"`));
  if (!(err instanceof errors.PermissionViolationError)) {
    // Publishes without a reply path are reported asynchronously: the server logs them.
    const end = Date.now() + 3000;
    while (!refused() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  }
  expect(refused(), `server log names ${subject}`).toBe(true);
}

function trial(id: string) {
  return {
    id,
    stage: STAGE,
    parentCommit: head,
    seed: 3,
    gpuClass: 'any',
    target: {
      command: 'python3 train.py',
      editable: ['train.py'],
      locked: ['prepare.py'],
      metric: 'val_bpb',
      lowerIsBetter: true,
      maxPatchBytes: 65536n,
      lockedSha256: { 'prepare.py': sha256(readFileSync(join(dir, 'target', 'prepare.py'))) },
      env: { MODE: 'ok' },
    },
  };
}

beforeAll(async () => {
  nats = await startSecuredNats(dir, `perm${process.pid}`, STAGE);
  ({ names: n, nc: coord, jsm: coordJsm, kv } = nats);
  const repo = join(dir, 'target');
  gitIn(dir, 'init', '-q', '-b', 'main', repo);
  head = commitFiles(repo, DEFAULT_FILES, 'initial');
  code = await startCodeServer(repo);
}, 60_000);

afterAll(async () => {
  code?.server.forceShutdown();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the worker login', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await login('worker');
  });
  afterAll(async () => {
    await nc?.close();
  });

  it('pulls and acks a trial, reports a result, writes a heartbeat and reads the ladder', async () => {
    const js = jetstream(coord);
    await js.publish(n.trials('screen'), encode(TrialSchema, trial('perm-t1')));
    const m = await pullOne(nc, n.trialsStream, n.stageConsumer('screen'), { expiresMs: 2000 });
    expect(m).not.toBeNull();
    expect(decode(TrialSchema, m!.data).id).toBe('perm-t1');
    const wjs = jetstream(nc);
    const ack = await wjs.publish(
      n.resultFinished,
      encode(TrialResultSchema, { trialId: 'perm-t1', status: TrialStatus.OK, metric: 1 }),
    );
    expect(ack.stream).toBe(n.resultsStream);
    await m!.ackSync(2000);
    expect((await coordJsm.consumers.info(n.trialsStream, n.stageConsumer('screen'))).num_ack_pending).toBe(
      0,
    );
    const kvm = new Kvm(wjs);
    const workers = await kvm.open(n.workersBucket);
    await workers.put('perm-w0', encode(WorkerHeartbeatSchema, { workerId: 'perm-w0' }));
    expect((await kv.workers.get('perm-w0'))?.value.length).toBeGreaterThan(0);
    const control = await kvm.open(n.controlBucket);
    expect(decode(LadderSchema, (await control.get('ladder'))!.value).stages[0]?.name).toBe('screen');
    expect(violations()).toEqual([]);
  });

  it('cannot append to the ledger, queue a trial, set a control flag, or create, delete or purge a stream', async () => {
    const js = jetstream(nc, { timeout: 1500 });
    const jsm = await jetstreamManager(nc, { timeout: 1500 });
    const before = (await coordJsm.streams.info(n.eventsStream)).state.messages;
    await expectRefused(n.events, () => js.publish(n.events, 'forged'));
    await expectRefused(n.trials('screen'), () => js.publish(n.trials('screen'), 'forged'));
    const control = await new Kvm(js).open(n.controlBucket);
    await expectRefused(`$KV.${n.controlBucket}.ladder`, () => control.put('ladder', 'forged'));
    await expectRefused(`$JS.API.STREAM.CREATE.${n.prefix}_ROGUE`, () =>
      jsm.streams.add({ name: `${n.prefix}_ROGUE`, subjects: [`${n.prefix}.rogue`] }),
    );
    await expectRefused(`$JS.API.STREAM.DELETE.${n.eventsStream}`, () => jsm.streams.delete(n.eventsStream));
    await expectRefused(`$JS.API.STREAM.PURGE.${n.trialsStream}`, () => jsm.streams.purge(n.trialsStream));
    // Nothing changed.
    expect((await coordJsm.streams.info(n.eventsStream)).state.messages).toBe(before);
    expect(decode(LadderSchema, (await kv.control.get('ladder'))!.value).stages).toHaveLength(1);
    expect(await coordJsm.streams.info(`${n.prefix}_ROGUE`).catch(() => null)).toBeNull();
    // Nor read the coordinator's results queue.
    expect(await pullOne(nc, n.resultsStream, n.resultsConsumer, { noWait: true })).toBeNull();
  });

  it('publishes live progress and answers a stop request, and still cannot write the ledger', async () => {
    const seen = violations().length;
    const heard: string[] = [];
    const progress = coord.subscribe(n.progressAll, {
      callback: (err, m) => {
        if (!err) heard.push(decode(TrialProgressSchema, m.data).trialId);
      },
    });
    const stops = nc.subscribe(n.stopTrial('perm-t9'), {
      callback: (err, m) => {
        if (!err) m.respond(encode(StopTrialReplySchema, { stopped: true, reason: 'ok' }));
      },
    });
    try {
      await coord.flush();
      await nc.flush();
      nc.publish(n.progress('perm-t9'), encode(TrialProgressSchema, { trialId: 'perm-t9', workerId: 'w' }));
      const reply = await coord.request(
        n.stopTrial('perm-t9'),
        encode(StopTrialRequestSchema, { trialId: 'perm-t9', reason: 'worse' }),
        { timeout: 3000 },
      );
      expect(decode(StopTrialReplySchema, reply.data).stopped).toBe(true);
      const end = Date.now() + 3000;
      while (heard.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(heard).toEqual(['perm-t9']);
      expect(violations().slice(seen)).toEqual([]);
    } finally {
      progress.unsubscribe();
      stops.unsubscribe();
    }
    // Replying is no right on inboxes: a publish to one nobody asked from is refused, as is
    // stopping a trial (the coordinator's) and, still, the ledger.
    nc.publish('_INBOX.forged.1', 'x');
    nc.publish(n.stopTrial('perm-t9'), 'x');
    const sent = () => Promise.reject(new Error('published without a reply path'));
    await expectRefused('_INBOX.forged.1', sent);
    await expectRefused(n.stopTrial('perm-t9'), sent);
    await expectRefused(n.events, () => jetstream(nc, { timeout: 1500 }).publish(n.events, 'forged'));
  });
});

describe('the coordinator login', () => {
  it('appends to the ledger, queues trials and creates and deletes streams', async () => {
    const js = jetstream(coord);
    const before = (await coordJsm.streams.info(n.eventsStream)).state.messages;
    await js.publish(n.events, 'fact');
    expect((await coordJsm.streams.info(n.eventsStream)).state.messages).toBe(before + 1);
    await js.publish(n.trials('screen'), encode(TrialSchema, trial('perm-t2')));
    await kv.control.put('flag', 'x');
    const extra = `${n.prefix}_EXTRA`;
    await coordJsm.streams.add({ name: extra, subjects: [`${n.prefix}.extra`] });
    expect((await coordJsm.streams.info(extra)).config.name).toBe(extra);
    await coordJsm.streams.delete(extra);
    // The queued trial is drained by the next test's worker; purge it here to keep that test exact.
    await coordJsm.streams.purge(n.trialsStream);
  });
});

describe('logins', () => {
  it('refuses a client without a login or with a wrong password, naming the user but not the password', async () => {
    const anonymous = await failure(() => connect({ servers: nats.server.url, maxReconnectAttempts: 0 }));
    expect(anonymous).toBeInstanceOf(errors.AuthorizationError);
    expect(natsConnectError(anonymous, nats.server.url, undefined).code).toBe(Code.Unauthenticated);
    const wrong = 'wrong-password-31337';
    const refused = await failure(() => login('worker', wrong));
    const err = natsConnectError(refused, nats.server.url, 'worker');
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.message).toContain('"worker"');
    expect(err.describe()).not.toContain(wrong);

    const w = new Worker({
      natsUrl: nats.server.url,
      natsUser: nats.users.worker.user,
      natsPassword: wrong,
      codeAddr: code.addr,
      prefix: n.prefix,
      gpus: 'none',
      workDir: join(dir, 'work-bad'),
      id: 'perm-bad',
      logger: () => undefined,
    });
    const started = ArswarmError.from(await failure(() => w.start()));
    expect(started.code).toBe(Code.Unauthenticated);
    expect(started.message).not.toContain(wrong);
  });

  it('lets a real Worker run a trial end to end with the worker login, without a violation', async () => {
    const worker = new Worker({
      natsUrl: nats.server.url,
      natsUser: nats.users.worker.user,
      natsPassword: nats.users.worker.password,
      codeAddr: code.addr,
      prefix: n.prefix,
      gpus: 'none',
      workDir: join(dir, 'work'),
      id: 'perm-w1',
      heartbeatMs: 100,
      pollExpiresMs: 300,
      logger: () => undefined,
    });
    const seen = violations().length;
    await worker.start();
    try {
      await jetstream(coord).publish(n.trials('screen'), encode(TrialSchema, trial('perm-t3')));
      const deadline = Date.now() + 30_000;
      let result: Awaited<ReturnType<SecuredNats['results']>>[number] | undefined;
      while (!result && Date.now() < deadline) {
        result = (await nats.results()).find((r) => r.trialId === 'perm-t3');
        if (!result) await new Promise((r) => setTimeout(r, 200));
      }
      expect(result?.status).toBe(TrialStatus.OK);
      expect(await kv.workers.get('perm-w1')).not.toBeNull();
    } finally {
      await worker.drain(0);
      await worker.close();
    }
    expect(violations().slice(seen)).toEqual([]);
  }, 60_000);

  it('lets a real Worker with the worker login publish a curve and be stopped mid-run, without a violation', async () => {
    const worker = new Worker({
      natsUrl: nats.server.url,
      natsUser: nats.users.worker.user,
      natsPassword: nats.users.worker.password,
      codeAddr: code.addr,
      prefix: n.prefix,
      gpus: 'none',
      workDir: join(dir, 'work-stop'),
      id: 'perm-w2',
      heartbeatMs: 100,
      pollExpiresMs: 300,
      killGraceMs: 300,
      progressIntervalMs: 200,
      logger: () => undefined,
    });
    const seen = violations().length;
    const points: number[] = [];
    const sub = coord.subscribe(n.progress('perm-t4'), {
      callback: (err, m) => {
        if (!err) points.push(...decode(TrialProgressSchema, m.data).points.map((p) => p.fraction));
      },
    });
    await worker.start();
    try {
      const t = trial('perm-t4');
      const stopped = {
        ...t,
        stage: { ...STAGE, budgetSeconds: 30, timeoutSeconds: 60 },
        target: {
          ...t.target,
          env: { MODE: 'curve' },
          progress: { pattern: DEFAULT_PROGRESS_PATTERN, lowerIsBetter: true },
        },
      };
      await jetstream(coord).publish(n.trials('screen'), encode(TrialSchema, stopped));
      const deadline = Date.now() + 30_000;
      while (points.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(points.length).toBeGreaterThan(0);
      const reply = await coord.request(
        n.stopTrial('perm-t4'),
        encode(StopTrialRequestSchema, { trialId: 'perm-t4', reason: 'worse than the baseline' }),
        { timeout: 5000 },
      );
      expect(decode(StopTrialReplySchema, reply.data)).toMatchObject({ stopped: true });
      let result: Awaited<ReturnType<SecuredNats['results']>>[number] | undefined;
      while (!result && Date.now() < deadline) {
        result = (await nats.results()).find((r) => r.trialId === 'perm-t4');
        if (!result) await new Promise((r) => setTimeout(r, 200));
      }
      expect(result?.status).toBe(TrialStatus.STOPPED);
      expect(result?.curve.length).toBeGreaterThan(0);
    } finally {
      sub.unsubscribe();
      await worker.drain(0);
      await worker.close();
    }
    expect(violations().slice(seen)).toEqual([]);
  }, 60_000);
});
