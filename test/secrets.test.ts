/**
 * Secrets stay where they belong.
 *
 * 1. A real `arswarm worker` process holding credentials in its environment
 *    (API key, control token, its NATS login, cloud and GitHub tokens) runs a
 *    target that prints its whole environment: none of them reaches the
 *    training process, its log tail in the result, the log on disk or the
 *    worker's own output — even when the trial's spec asks for them by name.
 * 2. A whole local swarm (`arswarm up` as a child process, its embedded
 *    nats-server with per-role logins, a claude proposer on the local
 *    Messages-API server) runs with known secret values: none appears in
 *    anything `up` prints, the trial logs, the ledger, results.tsv, the
 *    journal or the shared branch — while each secret provably was in use.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { toJson } from '@bufbuild/protobuf';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import { EventSchema } from '../gen/arswarm/v1/event_pb.js';
import { TrialSchema, TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { decode, encode } from '../common/codec.js';
import { ArswarmError, Code } from '../common/errors.js';
import { sha256 } from '../common/git.js';
import { createClient } from '../common/grpc.js';
import { startNatsServer } from '../common/nats-server.js';
import { names } from '../common/subjects.js';
import { BIN, ROOT } from './support/local-swarm.js';
import { scenarios, startMessagesApiServer, type MessagesApiServer } from './support/messages-api-server.js';
import { startSecuredNats, type SecuredNats } from './support/secured-nats.js';
import { commitFiles, exited, gitIn, startCodeServer, until } from './support/worker-harness.js';

/** Every file under `dir` (recursively), skipping what matches `skip`. */
function filesUnder(dir: string, skip: RegExp = /^$/): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (skip.test(p)) continue;
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...filesUnder(p, skip));
    else if (st?.isFile()) out.push(p);
  }
  return out;
}

/** Which of `secrets` (name -> value) occur in `text`, by name. */
function leaked(text: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets)
    .filter(([, v]) => text.includes(v))
    .map(([k]) => k);
}

describe('a real worker with credentials in its environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-secrets-w-'));
  let nats: SecuredNats;
  let code: Awaited<ReturnType<typeof startCodeServer>>;
  let head = '';
  let secrets: Record<string, string>;
  let output = '';
  let worker: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    nats = await startSecuredNats(dir, `sec${process.pid}`);
    const repo = join(dir, 'target');
    cpSync(join(ROOT, 'test', 'fixtures', 'env-dump'), repo, { recursive: true });
    gitIn(dir, 'init', '-q', '-b', 'main', repo);
    head = commitFiles(repo, {}, 'env-dump target');
    code = await startCodeServer(repo);
    secrets = {
      ANTHROPIC_API_KEY: 'sk-ant-worker-env-5d1e7c',
      ARSWARM_TOKEN: 'tok-worker-env-8a3f21b9',
      ARSWARM_NATS_PASSWORD: nats.users.worker.password,
      OPENAI_API_KEY: 'sk-openai-worker-env-33aa',
      AWS_SECRET_ACCESS_KEY: 'aws-secret-worker-env-7e7e',
      GITHUB_TOKEN: 'ghp-worker-env-0f0f0f',
      NATS_CREDS: 'nats-creds-worker-env-1c1c',
    };
    worker = spawn(
      process.execPath,
      [
        BIN,
        'worker',
        '--nats',
        nats.server.url,
        '--code',
        code.addr,
        '--prefix',
        nats.names.prefix,
        '--gpus',
        'none',
        '--work-dir',
        join(dir, 'work'),
        '--id',
        'sec-w1',
        '--heartbeat-ms',
        '200',
        '--log-level',
        'debug',
      ],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...secrets, ARSWARM_NATS_USER: 'worker' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    worker.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    worker.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  }, 60_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGKILL');
      await exited(worker);
    }
    code?.server.forceShutdown();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the trial with none of them in the environment, the log tail, the log on disk or its output', async () => {
    const trial = {
      id: 'sec-t1',
      stage: { name: 'screen', index: 0, budgetSeconds: 1, timeoutSeconds: 20 },
      parentCommit: head,
      seed: 5,
      gpuClass: 'any',
      target: {
        command: 'python3 train.py',
        editable: ['train.py'],
        locked: ['prepare.py'],
        metric: 'val_bpb',
        lowerIsBetter: true,
        maxPatchBytes: 65536n,
        lockedSha256: { 'prepare.py': sha256(readFileSync(join(dir, 'target', 'prepare.py'))) },
        // A hostile or careless spec asking for credentials by name gets none of them.
        env: {
          ANTHROPIC_API_KEY: 'from-spec',
          ARSWARM_NATS_PASSWORD: 'from-spec',
          ARSWARM_NATS_USER: 'x',
          MODE: 'dump',
        },
      },
    };
    await nats.js.publish(nats.names.trials('screen'), encode(TrialSchema, trial));
    const r = await until(
      async () => (await nats.results()).find((x) => x.trialId === 'sec-t1'),
      45_000,
      'the result',
    );
    expect(r.status).toBe(TrialStatus.OK);
    // The dump ran: its variables are there, from both views.
    expect(r.logTail).toContain('ENV MODE=dump\n');
    expect(r.logTail).toContain('PROC SEED=5\n');
    expect(r.logTail).toContain('ENV ARSWARM_TRIAL_ID=sec-t1\n');
    expect(leaked(r.logTail, secrets)).toEqual([]);
    const names = [...r.logTail.matchAll(/^(?:ENV|PROC) ([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]!);
    expect(names.filter((k) => /KEY|TOKEN|PASSWORD|SECRET|CREDS|NATS_USER/.test(k))).toEqual([]);
    // The full log the worker keeps on disk.
    const logs = filesUnder(join(dir, 'work')).filter((f) => /\.log$/.test(f));
    expect(logs.length).toBeGreaterThan(0);
    for (const f of logs) expect(leaked(readFileSync(f, 'utf8'), secrets), f).toEqual([]);
    // The worker's own output (debug level), and NATS saw no forbidden subject.
    expect(output).toMatch(/sec-w1/);
    expect(leaked(output, secrets)).toEqual([]);
    expect(nats.violations()).toEqual([]);
  }, 60_000);
});

describe('a local swarm (`arswarm up`) with known secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-secrets-up-'));
  const stateDir = join(dir, 'state');
  const known = {
    ANTHROPIC_API_KEY: 'sk-ant-up-run-4b9e2f6a1c',
    ADMIN_TOKEN: 'admin-token-up-run-6c2d9e1f0a',
    VIEWER_TOKEN: 'viewer-token-up-run-1a2b3c4d5e',
    GITHUB_TOKEN: 'ghp-up-run-77aa88bb',
  };
  let server: MessagesApiServer;
  let out = '';
  let exitCode: number | null = null;
  let secrets: Record<string, string> = {};
  let statusSeen = false;
  let wrongTokenCode: Code | undefined;

  beforeAll(async () => {
    server = await startMessagesApiServer({
      apiKey: known.ANTHROPIC_API_KEY,
      script: [{ conversation: scenarios.malformedJson() }, { conversation: scenarios.textOnly() }],
      fallback: scenarios.tweak(['SEED', 'DEPTH']),
    });
    const target = join(dir, 'target');
    cpSync(join(ROOT, 'examples', 'landscape'), target, {
      recursive: true,
      filter: (p) => !p.includes('.arswarm') && !p.includes('__pycache__'),
    });
    const config = parse(readFileSync(join(target, 'arswarm.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    config.target.env.ARSWARM_TIME_SCALE = '0.0002';
    config.swarm = {
      ...config.swarm,
      workers: 2,
      max_trials: 24,
      prefix: 'secup',
      grpc_port: 0,
      http_port: 0,
    };
    config.api = {
      tokens: [
        { name: 'ops', token: known.ADMIN_TOKEN, role: 'admin' },
        { name: 'watcher', token: known.VIEWER_TOKEN, role: 'viewer' },
      ],
    };
    config.proposers = [{ kind: 'claude', base_url: server.url, concurrency: 1, max_attempts: 1 }];
    writeFileSync(join(target, 'arswarm.yaml'), stringify(config));

    const child = spawn(
      process.execPath,
      [BIN, 'up', '--config', join(target, 'arswarm.yaml'), '--state-dir', stateDir],
      {
        env: {
          ...process.env,
          ANTHROPIC_API_KEY: known.ANTHROPIC_API_KEY,
          ARSWARM_TOKEN: known.ADMIN_TOKEN,
          GITHUB_TOKEN: known.GITHUB_TOKEN,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // While it runs: the tokens work (and a wrong one is refused), so they were live secrets.
    const addr = await until(
      () => /control: gRPC (127\.0\.0\.1:\d+)/.exec(out)?.[1],
      60_000,
      'the gRPC address',
    );
    const viewer = createClient(ControlService, addr, { token: known.VIEWER_TOKEN });
    const wrong = createClient(ControlService, addr, { token: `${known.ADMIN_TOKEN}x` });
    try {
      statusSeen = !!(await viewer.getStatus({})).branch;
      wrongTokenCode = await wrong.getStatus({}).then(
        () => undefined,
        (e: unknown) => ArswarmError.from(e).code,
      );
    } finally {
      viewer.close();
      wrong.close();
    }
    exitCode = await exited(child);
    const users = parse(readFileSync(join(stateDir, 'nats-users.yaml'), 'utf8')) as Record<
      string,
      { password: string }
    >;
    secrets = {
      ...known,
      NATS_COORDINATOR_PASSWORD: users.coordinator!.password,
      NATS_WORKER_PASSWORD: users.worker!.password,
    };
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ran a bounded search with every secret in use', () => {
    expect(exitCode).toBe(0);
    expect(out).toMatch(/done: \d+ trials/);
    expect(statusSeen).toBe(true);
    expect(wrongTokenCode).toBe(Code.Unauthenticated);
    // The proposer called the API with the key (and its failures were logged).
    expect(server.requests.length).toBeGreaterThan(2);
    expect(server.requests.every((r) => r.authorized)).toBe(true);
    // The logins file is the owner's only.
    expect(statSync(join(stateDir, 'nats-users.yaml')).mode & 0o777).toBe(0o600);
  });

  it('printed none of them', () => {
    expect(out.length).toBeGreaterThan(500);
    expect(leaked(out, secrets)).toEqual([]);
  });

  it('wrote none of them into trial logs, results.tsv, the journal or the shared branch', async () => {
    const written = filesUnder(stateDir, /\/(nats|repo)$|nats-users\.yaml$/);
    expect(written.some((f) => f.endsWith('results.tsv'))).toBe(true);
    expect(written.some((f) => /\/local-\d+\//.test(f) && f.endsWith('.log'))).toBe(true);
    for (const f of written) expect(leaked(readFileSync(f, 'latin1'), secrets), f).toEqual([]);
    const branch = gitIn(join(stateDir, 'repo'), 'log', '-p', '--all');
    expect(branch).toMatch(/Arswarm-Candidate:|arswarm: import/);
    expect(leaked(branch, secrets)).toEqual([]);
  });

  it('recorded none of them in the ledger', async () => {
    // The embedded server is gone; its store is not. Read the ledger from it.
    const nats = await startNatsServer({ storeDir: join(stateDir, 'nats') });
    try {
      const nc = await connect({ servers: nats.url });
      const jsm = await jetstreamManager(nc);
      const stream = names('secup').eventsStream;
      const info = await jsm.streams.info(stream);
      let text = '';
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(stream, { seq });
        if (m) text += `${JSON.stringify(toJson(EventSchema, decode(EventSchema, m.data)))}\n`;
      }
      await nc.close();
      expect(info.state.messages).toBeGreaterThan(50);
      expect(text).toMatch(/"proposerFailed"/);
      expect(leaked(text, secrets)).toEqual([]);
    } finally {
      await nats.stop();
    }
  });
});
