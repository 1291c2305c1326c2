/**
 * The bad-input suite: patches, model outputs, config files and control
 * requests that are wrong in one way each, against a real local swarm (real
 * nats-server, coordinator, worker process, landscape target at a tiny time
 * scale, a claude proposer on the local Messages-API server). Every case must
 * get a clear error — a code plus a message naming the problem — and leave
 * the swarm running: GetStatus still answers, the ledger gains no wrong event
 * (no refused idea queued, no merge, review decision, pause or scaling), and
 * after each group a valid candidate still gets its trial run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import { claudeProposerSchema, type Role } from '../common/config.js';
import { loadConfig } from '../common/config-load.js';
import { ArswarmError, Code } from '../common/errors.js';
import { createClient } from '../common/grpc.js';
import { LocalWorkers } from '../coordinator/local-workers.js';
import { CONFIG_CASES } from './bad-input/configs.js';
import { GRPC_CASES, rawCall, type ControlClient, type GrpcCaseContext } from './bad-input/grpc.js';
import { GOOD_AFTER_LLM, LLM_CASES } from './bad-input/llm.js';
import { PATCH_CASES } from './bad-input/patches.js';
import { editDiff, knobDiff, startControlSwarm, TOKENS, waitFor } from './support/control-swarm.js';
import { BIN, ROOT, type LocalSwarm } from './support/local-swarm.js';
import { startMessagesApiServer, type MessagesApiServer } from './support/messages-api-server.js';

const run = promisify(execFile);
const API_KEY = 'sk-bad-input-0a1b2c3d4e5f';

let swarm: LocalSwarm;
let server: MessagesApiServer;
let raw: grpc.Client;
const dir = mkdtempSync(join(tmpdir(), 'arswarm-badinput-'));
const events: Event[] = [];
const clients = {} as Record<Role, ControlClient>;
/** Candidates that were refused: none of them may ever get a trial. */
const refused = new Set<string>();

/** Runs `fn`, which must fail; returns its error as an ArswarmError. */
async function failure(fn: () => Promise<unknown>): Promise<ArswarmError> {
  try {
    await fn();
  } catch (err) {
    return ArswarmError.from(err);
  }
  throw new Error('the call succeeded');
}

/** Events of the ledger that bad input must never cause. */
function wrongEvents(evs: readonly Event[]): string[] {
  const out: string[] = [];
  for (const e of evs) {
    const b = e.body;
    if (
      b.case === 'merged' ||
      b.case === 'reviewDecided' ||
      b.case === 'workersScaled' ||
      b.case === 'swarmPaused' ||
      b.case === 'swarmResumed'
    )
      out.push(`${e.seq} ${b.case}`);
    else if (b.case === 'candidateProposed' && b.value.candidate?.title.startsWith('bad input'))
      out.push(`${e.seq} accepted ${b.value.candidate.title}`);
    else if (b.case === 'trialQueued' && refused.has(b.value.trial?.candidateId ?? ''))
      out.push(`${e.seq} queued a trial of refused ${b.value.trial?.candidateId}`);
  }
  return out;
}

/** Checks the swarm after a case: the API answers and nothing wrong reached the ledger since `mark`. */
async function stillRunning(mark: number): Promise<void> {
  const s = await clients.viewer.getStatus({});
  expect(s.head).toBe(swarm.coordinator.ledger.state.head);
  expect(swarm.coordinator.state).toBe('running');
  expect(wrongEvents(events.slice(mark))).toEqual([]);
}

/** Submits a valid candidate and waits until one of its trials has finished. */
async function trialCompletes(name: string, value: string): Promise<string> {
  const { id } = await clients.reviewer.submitCandidate({
    diff: knobDiff(swarm.repoDir, name, value),
    title: `valid: ${name} = ${value}`,
    hypothesis: 'the swarm still runs trials after bad input',
  });
  await waitFor(
    () =>
      events.find(
        (e) => e.body.case === 'trialFinished' && e.body.value.result?.trialId.startsWith(`${id}.`),
      ),
    `a finished trial of ${id}`,
    60_000,
  );
  return id;
}

beforeAll(async () => {
  server = await startMessagesApiServer({
    apiKey: API_KEY,
    script: [...LLM_CASES.map((c) => c.step), GOOD_AFTER_LLM],
  });
  const keyFile = join(dir, 'api-key');
  writeFileSync(keyFile, `${API_KEY}\n`, { mode: 0o600 });
  swarm = await startControlSwarm({
    prefix: 'badinput',
    workers: 1,
    edit: (c) => {
      c.proposers = [
        claudeProposerSchema.parse({
          kind: 'claude',
          base_url: server.url,
          api_key_file: keyFile,
          concurrency: 1,
          max_attempts: 1,
          max_turns: 2,
        }),
      ];
    },
  });
  swarm.coordinator.ledger.onEvent((e) => {
    events.push(e);
    if (e.body.case === 'candidateRefused') refused.add(e.body.value.candidate?.id ?? '');
  });
  const addr = `127.0.0.1:${swarm.coordinator.grpcPort}`;
  for (const role of Object.keys(TOKENS) as Role[])
    clients[role] = createClient(ControlService, addr, { token: TOKENS[role] });
  raw = new grpc.Client(addr, grpc.credentials.createInsecure());
  // A scaler that validates but never needs to start anything: every scaling request here is wrong.
  swarm.coordinator.useScaler(
    new LocalWorkers({
      bin: BIN,
      workerToken: swarm.coordinator.api.workerToken,
      natsUrl: swarm.nats.url,
      codeAddr: addr,
      prefix: swarm.config.swarm.prefix,
      workDir: join(dir, 'scaled'),
    }),
  );
}, 60_000);

afterAll(async () => {
  for (const c of Object.values(clients)) c?.close();
  raw?.close();
  await swarm?.stop();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('bad patches, submitted over gRPC', () => {
  it.each(PATCH_CASES)('refuses $name', async (c) => {
    const train = readFileSync(join(swarm.repoDir, 'train.py'), 'utf8');
    const mark = events.length;
    const title = `bad input: ${c.name}`;
    const err = await failure(() => clients.reviewer.submitCandidate({ diff: c.diff(train), title }));
    expect({ code: Code[err.code], reason: err.reason }).toEqual({ code: Code[c.code], reason: c.reason });
    expect(err.message).toMatch(c.message);
    // Recorded as a refusal with the same reason (an empty diff never becomes a candidate at all).
    const refusals = events
      .slice(mark)
      .filter((e) => e.body.case === 'candidateRefused' && e.body.value.candidate?.title === title);
    expect(refusals.map((e) => e.body.case === 'candidateRefused' && e.body.value.code)).toEqual(
      c.reason === 'empty' ? [] : [c.reason],
    );
    await stillRunning(mark);
  });

  it('refuses a patch file that is not UTF-8 in `arswarm submit`, before sending it', async () => {
    const file = join(dir, 'latin1.diff');
    const train = readFileSync(join(swarm.repoDir, 'train.py'), 'utf8');
    const good = knobDiff(swarm.repoDir, 'DROPOUT', '0.05');
    expect(train).toContain('DROPOUT = 0.1');
    writeFileSync(file, Buffer.concat([Buffer.from(good), Buffer.from('+# caf\xe9\n', 'latin1')]));
    const mark = events.length;
    const r = await run(
      process.execPath,
      [BIN, 'submit', '--addr', `127.0.0.1:${swarm.coordinator.grpcPort}`, '-t', 'bad input: latin-1', file],
      { env: { ...process.env, ARSWARM_TOKEN: TOKENS.reviewer } },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/patch .*latin1\.diff is not valid UTF-8/);
    expect(events.slice(mark).filter((e) => e.body.case?.startsWith('candidate'))).toEqual([]);
    await stillRunning(mark);
  }, 30_000);

  it('still runs a valid candidate’s trial afterwards', async () => {
    const mark = events.length;
    await trialCompletes('LEARNING_RATE', '0.002');
    await stillRunning(mark);
  }, 70_000);
});

describe('bad model outputs (claude proposer, local Messages-API server)', () => {
  let failed: { code: string; reason: string }[] = [];

  beforeAll(async () => {
    const all = () =>
      events
        .filter((e) => e.body.case === 'proposerFailed')
        .map((e) => e.body.value as { code: string; reason: string });
    await waitFor(() => (all().length >= LLM_CASES.length ? true : undefined), 'the failures', 60_000).catch(
      () => undefined,
    );
    failed = all();
    // One failure per case, in script order (the proposer runs one conversation at a time).
    expect(failed.map((f) => f.code)).toEqual(LLM_CASES.map((c) => c.code));
  }, 70_000);

  it.each(LLM_CASES.map((c, i) => ({ ...c, i })))('ends $name as one failure with code $code', (c) => {
    expect(failed[c.i]!.code).toBe(c.code);
    expect(failed[c.i]!.reason).toMatch(c.reason);
  });

  it('made no candidate of them, and the next valid idea runs its trials', async () => {
    const mark = events.length;
    const fromModel = () =>
      [...swarm.coordinator.ledger.state.candidates.values()].filter(
        (v) => v.candidate.proposer === 'claude',
      );
    const good = await waitFor(
      () => fromModel().find((v) => v.candidate.title === 'a little weight decay'),
      'the valid idea as a candidate',
      60_000,
    );
    expect(fromModel()).toHaveLength(1);
    const id = good.candidate.id;
    await waitFor(
      () =>
        events.find(
          (e) => e.body.case === 'trialFinished' && e.body.value.result?.trialId.startsWith(`${id}.`),
        ),
      `a finished trial of ${id}`,
      60_000,
    );
    expect(swarm.coordinator.ledger.state.proposerFailures).toBe(LLM_CASES.length);
    expect(server.requests.every((r) => r.authorized)).toBe(true);
    await stillRunning(mark);
  }, 130_000);
});

describe('bad control requests (gRPC and the HTTP gateway)', () => {
  let ctx: GrpcCaseContext;

  beforeAll(async () => {
    const refusedId = [...refused][0]!;
    // A valid patch whose screen run sleeps 20 s and then crashes (the
    // swarm's other slots take well under a second): active while the cases
    // run, never promoted, never in review.
    const { id: notInReviewId } = await clients.reviewer.submitCandidate({
      diff: editDiff(swarm.repoDir, (t) => {
        const at = '    constants = constants_of(globals())\n';
        if (!t.includes(at)) throw new Error('train.py changed: no constants_of line');
        return t.replace(at, `    time.sleep(20)\n    raise SystemExit(3)\n${at}`);
      }),
      title: 'valid: a slow start, then a crash',
    });
    ctx = {
      ...clients,
      raw: (method, body) => rawCall(raw, TOKENS.admin, method, body),
      http: async (method, body) => {
        const res = await fetch(`http://127.0.0.1:${swarm.coordinator.httpPort}/api/${method}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' },
          body,
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      },
      refusedId,
      activeId: notInReviewId,
      goodDiff: knobDiff(swarm.repoDir, 'GRAD_CLIP', '0.5'),
    };
  });

  it.each(GRPC_CASES)('answers $name with a clear error', async (c) => {
    const mark = events.length;
    const err = await failure(() => c.call(ctx));
    expect(Code[err.code]).toBe(Code[c.code]);
    expect(err.message).toMatch(c.message);
    if (c.field) expect(err.field).toBe(c.field);
    if (c.reason) expect(err.reason).toBe(c.reason);
    await stillRunning(mark);
  });

  it('still runs a valid candidate’s trial afterwards', async () => {
    const mark = events.length;
    await trialCompletes('WARMUP_STEPS', '2');
    await stillRunning(mark);
    expect(swarm.coordinator.ledger.state.paused).toBe(false);
  }, 70_000);
});

describe('bad config files', () => {
  const base = parse(readFileSync(join(ROOT, 'examples', 'landscape', 'arswarm.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  const write = (name: string, input: (typeof CONFIG_CASES)[number]['input']): string => {
    const d = mkdtempSync(join(dir, 'config-'));
    const file = join(d, 'arswarm.yaml');
    if (typeof input === 'string') writeFileSync(file, input);
    else if (input) {
      const c = structuredClone(base);
      input(c);
      writeFileSync(file, stringify(c));
    }
    void name;
    return file;
  };

  it.each(CONFIG_CASES)('names the problem: $name', async (c) => {
    const file = write(c.name, c.input);
    const err = await failure(async () => loadConfig(file));
    expect(Code[err.code]).toBe(Code[c.code]);
    expect(err.field).toBe(c.field);
    expect(err.message).toMatch(c.message);
    expect(err.message).not.toMatch(/tok-4c1d|short-secret/);
  });

  it('makes `arswarm coordinator` exit 2 with the field, without reaching NATS', async () => {
    const file = write('cli', (c) => ((c.stages as { replicates: unknown }[])[0]!.replicates = 0));
    const r = await run(process.execPath, [
      BIN,
      'coordinator',
      '--config',
      file,
      '--nats',
      'nats://127.0.0.1:1',
    ]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stages\[0\]\.replicates: Too small/);
    // The running swarm never noticed.
    expect((await clients.viewer.getStatus({})).branch).toBe(swarm.config.swarm.branch);
  }, 30_000);
});
