/**
 * A coordinator killed with -9 mid-run restarts from the ledger and goes on:
 * nothing lost, nothing counted twice, no wrong merge, a consistent branch.
 * A result delivered again after it was counted is counted once. Real parts:
 * nats-server, the coordinator and workers as child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import { TrialResultSchema } from '../gen/arswarm/v1/trial_pb.js';
import { GENERATED_TOKEN_FILE } from '../coordinator/api/auth.js';
import { audit, type AuditReport } from '../coordinator/audit.js';
import { replay } from '../coordinator/ledger/ledger.js';
import { TargetRepo } from '../coordinator/repo.js';
import { encode } from '../common/codec.js';
import { loadConfig } from '../common/config-load.js';
import { createClient } from '../common/grpc.js';
import { freePort, startNatsServer, type NatsServer } from '../common/nats-server.js';
import { names } from '../common/subjects.js';
import { BIN, ROOT } from './support/local-swarm.js';

const PREFIX = 'crashtest';
const MAX_TRIALS = 60;

describe('coordinator crash recovery', () => {
  let dir: string;
  let nats: NatsServer;
  let grpcPort: number;
  let coordinator: ChildProcess;
  const workers: ChildProcess[] = [];
  let client: ReturnType<typeof createClient<(typeof ControlService)['method']>>;
  let report: AuditReport;
  let events: Event[] = [];
  let nc: NatsConnection;
  const kills: number[] = [];

  const startCoordinator = () => {
    coordinator = spawn(
      process.execPath,
      [
        BIN,
        'coordinator',
        '--config',
        join(dir, 'target', 'arswarm.yaml'),
        '--nats',
        nats.url,
        '--state-dir',
        join(dir, 'state'),
        '--grpc-host',
        '127.0.0.1',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  };
  const status = () => client.getStatus({}, { timeoutMs: 2000 }).catch(() => undefined);
  let finished = 0;
  const poll = async () => {
    const s = await status();
    if (s) finished = Number(s.trialsFinished);
    return s;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-crash-'));
    cpSync(join(ROOT, 'examples', 'landscape'), join(dir, 'target'), {
      recursive: true,
      filter: (p) => !p.includes('.arswarm'),
    });
    const cfg = loadConfig(join(dir, 'target', 'arswarm.yaml')).config;
    grpcPort = await freePort();
    cfg.target.env.ARSWARM_TIME_SCALE = '0.0005';
    cfg.swarm = {
      ...cfg.swarm,
      prefix: PREFIX,
      grpc_port: grpcPort,
      max_trials: MAX_TRIALS,
      merge_policy: 'auto',
      ack_wait_seconds: 5,
    };
    writeFileSync(join(dir, 'target', 'arswarm.yaml'), stringify(cfg));
    nats = await startNatsServer({ storeDir: join(dir, 'nats') });
    startCoordinator();
    // Local mode generates an admin token into the state dir on first start.
    const tokenFile = join(dir, 'state', GENERATED_TOKEN_FILE);
    for (let i = 0; i < 300 && !existsSync(tokenFile); i++) await new Promise((r) => setTimeout(r, 100));
    client = createClient(ControlService, `127.0.0.1:${grpcPort}`, {
      token: readFileSync(tokenFile, 'utf8').trim(),
    });
    for (let i = 1; i <= 2; i++)
      workers.push(
        spawn(
          process.execPath,
          [
            BIN,
            'worker',
            '--nats',
            nats.url,
            '--code',
            `127.0.0.1:${grpcPort}`,
            '--prefix',
            PREFIX,
            '--gpus',
            'none',
            '--work-dir',
            join(dir, `w${i}`),
            '--id',
            `w${i}`,
            '--token-file',
            join(dir, 'state', 'worker-token'),
          ],
          { stdio: ['ignore', 'ignore', 'ignore'] },
        ),
      );
    // Kill -9 twice mid-run, restarting each time.
    for (const at of [12, 30]) {
      for (let i = 0; i < 1200 && finished < at; i++)
        await poll().then(() => new Promise((r) => setTimeout(r, 100)));
      coordinator.kill('SIGKILL');
      kills.push(finished);
      await new Promise((r) => coordinator.once('exit', r));
      startCoordinator();
    }
    // Run to the end of the bounded run.
    for (let i = 0; i < 3000; i++) {
      const s = await poll();
      if (s && finished >= MAX_TRIALS && s.trialsQueued === 0n) {
        const active = await client.listCandidates({ states: [CandidateState.ACTIVE] });
        if (active.candidates.length === 0) break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    nc = await connect({ servers: nats.url });
  }, 300_000);

  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    coordinator?.kill('SIGKILL');
    client?.close();
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const doAudit = async () => {
    const n = names(PREFIX);
    events = [];
    for await (const ev of replay(jetstream(nc), await jetstreamManager(nc), n)) events.push(ev);
    const repo = TargetRepo.attach(join(dir, 'state', 'repo'), 'arswarm/main');
    const r = await audit(events, repo, { stageNames: ['screen', 'confirm', 'scale'], mergePolicy: 'auto' });
    return r;
  };

  it('was killed twice mid-run and still finished the bounded run', async () => {
    expect(kills.length).toBe(2);
    expect(kills[0]).toBeLessThan(MAX_TRIALS);
    expect(finished).toBeGreaterThanOrEqual(MAX_TRIALS);
  });

  it('lost nothing, counted nothing twice and merged nothing wrongly', async () => {
    report = await doAudit();
    expect(report.problems).toEqual([]);
    expect(report.lost).toBe(0);
    expect(report.doubleCounted).toBe(0);
    expect(report.wrongMerges).toBe(0);
    expect(report.branchConsistent).toBe(true);
    expect(events.filter((e) => e.body.case === 'swarmStarted')).toHaveLength(1);
  });

  it('counts a redelivered result once', async () => {
    const done = events.find((e) => e.body.case === 'trialFinished');
    expect(done).toBeDefined();
    const result = done!.body.case === 'trialFinished' ? done!.body.value.result! : undefined;
    const before = Number((await client.getStatus({})).trialsFinished);
    const js = jetstream(nc);
    // A fresh message id: JetStream's dedupe cannot help, the coordinator must.
    await js.publish(names(PREFIX).resultFinished, encode(TrialResultSchema, result!), {
      msgID: `dup-${Date.now()}`,
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(Number((await client.getStatus({})).trialsFinished)).toBe(before);
    const again = await doAudit();
    expect(again.doubleCounted).toBe(0);
  });
});
