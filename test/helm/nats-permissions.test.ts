/**
 * The NATS users the chart renders (templates/_nats-permissions.tpl):
 * consistent with the names in common/subjects.ts, and sufficient and
 * limiting on a real nats-server — a real Worker runs a trial as the worker
 * user and the real Coordinator starts as the coordinator user, neither
 * hitting a permissions violation, while the worker user cannot write the
 * ledger, queue trials, change control flags or manage streams.
 *
 * The processes under test connect without credentials (their NATS options
 * take none yet), so the server's `no_auth_user` maps them to the user under
 * test; the negative checks log in with the user's password.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config-load.js';
import { startNatsServer, type NatsServer } from '../../common/nats-server.js';
import { pullOne } from '../../common/nats-pull.js';
import { ANY_GPU_CLASS, names, type Names } from '../../common/subjects.js';
import { Coordinator } from '../../coordinator/coordinator.js';
import { ensureStageConsumer, ensureSwarmStreams } from '../../coordinator/jetstream-setup.js';
import { LadderSchema, TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { encode } from '../../common/codec.js';
import { Worker } from '../../worker/index.js';
import { commitFiles, DEFAULT_FILES, gitIn, Harness, startCodeServer } from '../support/worker-harness.js';
import { find, installHelm, ROOT, template } from './helm.js';

const PASSWORDS = { coordinator: 'coordinatorpw0123456789', worker: 'workerpw0123456789abc' };

interface Rules {
  allow: string[];
  deny: string[];
}
interface Permissions {
  publish: Rules;
  subscribe: Rules;
}

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

function mayPublish(perms: Permissions, subject: string): boolean {
  return (
    perms.publish.allow.some((a) => matches(a, subject)) && !perms.publish.deny.some((d) => matches(d, subject))
  );
}

/** The authorization block for a prefix, as the chart renders it. */
async function authorization(prefix: string): Promise<string> {
  const objs = await template([], [`config.swarm.prefix=${prefix}`]);
  return find(objs, 'ConfigMap', 'swarm-arswarm-nats').data['authorization.conf'] as string;
}

/** The permissions of one user, read back from the rendered NATS config. */
function permissionsOf(conf: string, user: string): Permissions {
  const block = new RegExp(`user: "${user}"[\\s\\S]*?permissions: (\\{.*\\})\\n`).exec(conf);
  if (!block) throw new Error(`no user ${user} in\n${conf}`);
  const list = (dir: string, kind: string): string[] => {
    const m = new RegExp(`${dir}: \\{[^}]*?${kind}: \\[([^\\]]*)\\]`).exec(block[1]!);
    return m ? (JSON.parse(`[${m[1]}]`) as string[]) : [];
  };
  return {
    publish: { allow: list('publish', 'allow'), deny: list('publish', 'deny') },
    subscribe: { allow: list('subscribe', 'allow'), deny: list('subscribe', 'deny') },
  };
}

/** A nats-server with the chart's users; `noAuthUser` is who a credential-less client becomes. */
async function serverWithChartUsers(prefix: string, noAuthUser: string, dir: string): Promise<NatsServer> {
  process.env.ARSWARM_NATS_COORDINATOR_PASSWORD = PASSWORDS.coordinator;
  process.env.ARSWARM_NATS_WORKER_PASSWORD = PASSWORDS.worker;
  return startNatsServer({
    storeDir: join(dir, 'nats'),
    extraConfig: [
      await authorization(prefix),
      `no_auth_user: ${noAuthUser}`,
      `log_file: ${JSON.stringify(join(dir, 'nats.log'))}`,
    ].join('\n'),
  });
}

/** The server's log lines for refused publishes and subscriptions ("Publish Violation - ..."). */
function violations(dir: string): string[] {
  return readFileSync(join(dir, 'nats.log'), 'utf8')
    .split('\n')
    .filter((l) => /(Publish|Subscription) Violation/.test(l));
}

function login(server: NatsServer, user: 'coordinator' | 'worker'): Promise<NatsConnection> {
  return connect({ servers: server.url, user, pass: PASSWORDS[user], maxReconnectAttempts: 0 });
}

beforeAll(() => {
  installHelm();
}, 600_000);

describe('NATS permissions rendered by the chart', () => {
  it.each(['arswarm', 'lab1'])('follow common/subjects.ts for prefix %s', async (prefix) => {
    const n = names(prefix);
    const conf = await authorization(prefix);
    const worker = permissionsOf(conf, 'worker');
    const coordinator = permissionsOf(conf, 'coordinator');
    const consumer = n.stageConsumer('screen');

    // A worker pulls and acks trials, reports results, beats its heartbeat.
    for (const s of [
      `$JS.API.CONSUMER.MSG.NEXT.${n.trialsStream}.${consumer}`,
      `$JS.API.CONSUMER.MSG.NEXT.${n.trialsStream}.${n.stageConsumer('screen', 'H100-80GB')}`,
      `$JS.API.CONSUMER.INFO.${n.trialsStream}.${consumer}`,
      `$JS.ACK.${n.trialsStream}.${consumer}.1.7.7.1700000000000000000.0`,
      n.resultFinished,
      n.resultStarted,
      `$KV.${n.workersBucket}.w1`,
      n.progress('t-1'),
    ])
      expect(mayPublish(worker, s), s).toBe(true);
    // ...and nothing that changes the ledger, the queues, the control flags or the streams.
    for (const s of [
      n.events,
      n.trials('screen'),
      `$KV.${n.controlBucket}.ladder`,
      `$JS.API.STREAM.DELETE.${n.eventsStream}`,
      `$JS.API.STREAM.PURGE.${n.trialsStream}`,
      `$JS.API.CONSUMER.MSG.NEXT.${n.resultsStream}.${n.resultsConsumer}`,
      `$JS.API.CONSUMER.MSG.NEXT.${n.eventsStream}.x`,
      `$JS.ACK.${n.resultsStream}.${n.resultsConsumer}.1.1.1.1.0`,
      `$JS.API.CONSUMER.DELETE.${n.trialsStream}.${consumer}`,
      // Stop requests are the coordinator's; replies go by allow_responses, not a right on inboxes.
      n.stopTrial('t-1'),
      '_INBOX.abc.1',
    ])
      expect(mayPublish(worker, s), s).toBe(false);
    expect(worker.publish.deny).toContain(n.events);
    expect(worker.subscribe.allow).toEqual(['_INBOX.>', n.stopAll]);
    expect(conf).toMatch(/user: "worker"[\s\S]*?allow_responses: true \}\n/);

    // The coordinator may do everything under its prefix.
    for (const s of [
      n.events,
      n.trials('screen'),
      n.resultFinished,
      `$KV.${n.controlBucket}.ladder`,
      `$JS.API.STREAM.CREATE.${n.trialsStream}`,
      `$JS.ACK.${n.resultsStream}.${n.resultsConsumer}.1.1.1.1.0`,
    ])
      expect(mayPublish(coordinator, s), s).toBe(true);
    expect(mayPublish(coordinator, `${prefix}x.events`)).toBe(false);
  });
});

describe('on a real nats-server with the chart users', () => {
  const h = new Harness();
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-natsperm-'));
  let server: NatsServer;
  let code: Awaited<ReturnType<typeof startCodeServer>>;
  let worker: Worker | undefined;
  let n: Names;

  beforeAll(async () => {
    n = h.names;
    server = await serverWithChartUsers(n.prefix, 'worker', dir);
    // What the coordinator would set up, done as the coordinator user.
    mkdirSync(h.repo, { recursive: true });
    gitIn(h.repo, 'init', '-q', '-b', 'main');
    h.head = commitFiles(h.repo, DEFAULT_FILES, 'initial');
    h.nats = server;
    h.nc = await login(server, 'coordinator');
    h.js = jetstream(h.nc);
    h.jsm = await jetstreamManager(h.nc);
    h.kv = await ensureSwarmStreams(h.nc, h.jsm, n);
    await ensureStageConsumer(h.jsm, n, 'screen', 10_000, ANY_GPU_CLASS);
    await h.kv.control.put(
      'ladder',
      encode(LadderSchema, { stages: h.stages, maxDeliveries: 5, ackWaitMs: 10_000n }),
    );
    code = await startCodeServer(h.repo);
    h.codeAddr = code.addr;
  });

  afterAll(async () => {
    await worker?.close();
    code?.server.forceShutdown();
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a real Worker, logged in as the worker user, run a trial end to end', async () => {
    worker = new Worker({
      natsUrl: server.url, // no credentials: no_auth_user makes it the worker user
      codeAddr: h.codeAddr,
      prefix: n.prefix,
      gpus: 'none',
      workDir: join(dir, 'work'),
      id: 'perm-w1',
      heartbeatMs: 100,
      pollExpiresMs: 300,
      logger: () => undefined,
    });
    await worker.start();
    const id = await h.queue(h.trial());
    const r = (await h.waitResults([id], 30_000)).get(id)!;
    expect(TrialStatus[r.status]).toBe('OK');
    // The heartbeat reached the workers bucket.
    const keys: string[] = [];
    for await (const k of await h.kv.workers.keys()) keys.push(k);
    expect(keys.length).toBeGreaterThan(0);
    await worker.close();
    worker = undefined;
    expect(violations(dir)).toEqual([]);
  });

  it('stops the worker user from writing the ledger, queueing trials, setting control flags, managing streams', async () => {
    const nc = await login(server, 'worker');
    try {
      const js = jetstream(nc, { timeout: 1500 });
      const before = (await h.jsm.streams.info(n.eventsStream)).state.messages;
      await expect(js.publish(n.events, 'forged')).rejects.toThrow();
      await expect(js.publish(n.trials('screen'), 'forged')).rejects.toThrow();
      expect((await h.jsm.streams.info(n.eventsStream)).state.messages).toBe(before);
      const control = await new Kvm(js).open(n.controlBucket);
      await expect(control.put('ladder', 'forged')).rejects.toThrow();
      const jsm = await jetstreamManager(nc, { timeout: 1500 });
      await expect(jsm.streams.delete(n.eventsStream)).rejects.toThrow();
      await expect(jsm.streams.purge(n.trialsStream)).rejects.toThrow();
      expect(await pullOne(nc, n.resultsStream, n.resultsConsumer, { noWait: true })).toBeNull();
      const refused = violations(dir).join('\n');
      for (const s of [n.events, n.trials('screen'), `$KV.${n.controlBucket}.ladder`, `$JS.API.STREAM.DELETE.${n.eventsStream}`])
        expect(refused).toContain(`"${s}"`);
    } finally {
      await nc.close();
    }
  });
});

describe('the real Coordinator as the coordinator user', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-natsperm-c-'));
  let server: NatsServer;
  let coordinator: Coordinator | undefined;

  afterAll(async () => {
    await coordinator?.close().catch(() => undefined);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, sets up its streams and queues baseline trials without a permissions violation', async () => {
    const repoDir = join(dir, 'target');
    cpSync(join(ROOT, 'examples', 'landscape'), repoDir, {
      recursive: true,
      filter: (p) => !p.includes('.arswarm') && !p.includes('__pycache__'),
    });
    const config = structuredClone(loadConfig(join(repoDir, 'arswarm.yaml')).config);
    config.swarm.prefix = `c${process.pid}`;
    server = await serverWithChartUsers(config.swarm.prefix, 'coordinator', dir);
    coordinator = await Coordinator.start({
      config,
      repoDir,
      stateDir: join(dir, 'state'),
      natsUrl: server.url,
      grpcPort: 0,
      httpPort: 0,
      tickMs: 100,
      log: () => undefined,
    });
    const n = names(config.swarm.prefix);
    const nc = await login(server, 'coordinator');
    try {
      const jsm = await jetstreamManager(nc);
      const deadline = Date.now() + 15_000;
      while ((await jsm.streams.info(n.trialsStream)).state.messages === 0) {
        if (Date.now() > deadline) throw new Error('no trial queued');
        await new Promise((r) => setTimeout(r, 100));
      }
      await coordinator.drain();
      await coordinator.close();
      coordinator = undefined;
    } finally {
      await nc.close();
    }
    expect(violations(dir)).toEqual([]);
  });
});
