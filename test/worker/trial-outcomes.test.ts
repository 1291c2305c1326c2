/**
 * One in-process worker (CPU mode) against a real nats-server, a real git
 * target and a real CodeService: every way a trial can end.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode } from '../../common/codec.js';
import { pullOne } from '../../common/nats-pull.js';
import { token } from '../../common/subjects.js';
import { TrialStatus, WorkerHeartbeatSchema, WorkerState } from '../../gen/arswarm/v1/trial_pb.js';
import { Worker } from '../../worker/index.js';
import { alive, commitFiles, gitIn, Harness, until } from '../support/worker-harness.js';

const h = new Harness({ maxDeliveries: 2 });
let worker: Worker;
const logs: string[] = [];
let overDelivered = '';

function diffOf(edit: (src: string) => string, file = 'train.py'): string {
  const path = join(h.repo, file);
  const before = readFileSync(path, 'utf8');
  commitFiles(h.repo, { [file]: edit(before) }, 'tmp');
  const diff = gitIn(h.repo, 'diff', 'HEAD~1', 'HEAD') + '\n';
  gitIn(h.repo, 'reset', '-q', '--hard', 'HEAD~1');
  return diff;
}

beforeAll(async () => {
  await h.start();
  // Over-delivered before any worker runs: two deliveries, both handed back.
  overDelivered = await h.queue(h.trial());
  for (let i = 0; i < 2; i++) {
    const m = await pullOne(h.nc, h.names.trialsStream, h.names.stageConsumer('screen'), { expiresMs: 2000 });
    expect(m?.deliveryCount).toBe(i + 1);
    m!.nak();
  }
  process.env.ARSWARM_TOKEN = 'tok-secret-123';
  process.env.ANTHROPIC_API_KEY = 'sk-ant-secret-456';
  worker = new Worker({
    natsUrl: h.nats.url,
    codeAddr: h.codeAddr,
    prefix: h.names.prefix,
    gpus: 'none',
    workDir: join(h.dir, 'work'),
    id: 'w1',
    heartbeatMs: 100,
    killGraceMs: 300,
    memorySampleMs: 100,
    cacheEnv: { DATASET_CACHE: join(h.dir, 'dataset-cache') },
    pollExpiresMs: 300,
    logger: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.close();
  await h.stop();
});

describe('worker trial outcomes', () => {
  it('reports a trial delivered more than max_deliveries as a crash without running it', async () => {
    const r = (await h.waitResults([overDelivered])).get(overDelivered)!;
    expect(r.status).toBe(TrialStatus.CRASH);
    expect(r.reason).toBe('delivered 3 times (max 2)');
    expect(r.trial?.id).toBe(overDelivered);
  });

  it('runs a patched trial with overrides and the stage environment', async () => {
    const diff = diffOf((s) => s.replace('LR = 0.01', 'LR = 0.25'));
    const t = h.trial({ diff });
    t.target!.overrides = [{ file: 'train.py', name: 'DEPTH', value: '12' }];
    const id = await h.queue(t);
    const r = (await h.waitResults([id])).get(id)!;
    expect(r.reason).toBe('');
    expect(r.status).toBe(TrialStatus.OK);
    expect(r.metric).toBeCloseTo(1.25, 6);
    expect(r.metrics).toMatchObject({ val_bpb: 1.25, depth: 12, seed: 7 });
    expect(r.workerId).toBe('w1');
    expect(r.gpuClass).toBe('cpu');
    expect(r.trial?.diff).toBe(diff);
    const started = (await h.started()).find((s) => s.trialId === id);
    expect(started).toMatchObject({ workerId: 'w1', gpuClass: 'cpu' });
    expect(r.logTail).toContain('val_bpb:          1.250000');
    expect(r.finishedAtMs >= r.startedAtMs).toBe(true);
  });

  it.each([
    ['crash', TrialStatus.CRASH, 'exit code 3'],
    ['noblock', TrialStatus.CRASH, 'no metric block'],
    ['nan', TrialStatus.NAN, 'val_bpb is not finite'],
    ['fail', TrialStatus.NAN, 'FAIL'],
    ['oom', TrialStatus.OOM, 'out-of-memory'],
    ['rewrite_locked', TrialStatus.INTEGRITY, 'prepare.py changed during the run'],
    ['rewrite_editable', TrialStatus.INTEGRITY, 'train.py changed during the run'],
  ])('classifies MODE=%s', async (mode, status, reason) => {
    const id = await h.queue(h.trial({ target: { env: { MODE: mode } } }));
    const r = (await h.waitResults([id])).get(id)!;
    expect(TrialStatus[r.status]).toBe(TrialStatus[status]);
    expect(r.reason).toContain(reason);
  });

  it('refuses a patch that touches a locked file or a protected line, before running', async () => {
    const locked = await h.queue(h.trial({ diff: diffOf((s) => s + 'VOCAB = 2\n', 'prepare.py') }));
    const prot = await h.queue(
      h.trial({ diff: diffOf((s) => s.replace('DEPTH = 4', 'DEPTH = 4\nprint(f"val_bpb: 0.0")')) }),
    );
    const rs = await h.waitResults([locked, prot]);
    expect(rs.get(locked)!.status).toBe(TrialStatus.INTEGRITY);
    expect(rs.get(locked)!.reason).toMatch(/locked_file.*prepare\.py/);
    expect(rs.get(locked)!.runMs).toBe(0n);
    expect(rs.get(prot)!.status).toBe(TrialStatus.INTEGRITY);
    expect(rs.get(prot)!.reason).toContain('protected_line');
  });

  it('refuses to run when a locked file does not match the recorded hash', async () => {
    const t = h.trial();
    t.target!.lockedSha256 = { 'prepare.py': '0'.repeat(64) };
    const id = await h.queue(t);
    const r = (await h.waitResults([id])).get(id)!;
    expect(r.status).toBe(TrialStatus.INTEGRITY);
    expect(r.reason).toBe('locked file prepare.py does not match its recorded sha256');
  });

  it('kills the whole process tree at the timeout', async () => {
    const pidFile = join(h.dir, 'hang.pids');
    const t = h.trial({ target: { env: { MODE: 'hang', PID_FILE: pidFile } } });
    t.stage = { ...t.stage!, timeoutSeconds: 3 };
    const id = await h.queue(t);
    const r = (await h.waitResults([id])).get(id)!;
    expect(r.status).toBe(TrialStatus.TIMEOUT);
    const pids = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    expect(pids).toHaveLength(2);
    await until(() => pids.every((p) => !alive(p)), 5000, 'the hung process tree to be gone');
  });

  it('reports progress from \\r lines in heartbeats', async () => {
    const id = await h.queue(h.trial({ target: { env: { MODE: 'progress', SLEEP_S: '1.5' } } }));
    const beat = await until(
      async () => {
        const e = await h.kv.workers.get(token('w1'));
        const hb = e?.value.length ? decode(WorkerHeartbeatSchema, e.value) : undefined;
        return hb?.currentTrialId === id && hb.progress > 0.4 ? hb : undefined;
      },
      10_000,
      'a heartbeat with progress',
    );
    expect(beat.progress).toBeCloseTo(0.42, 5);
    expect(beat.state).toBe(WorkerState.RUNNING);
    expect(beat.gpuClass).toBe('cpu');
    const r = (await h.waitResults([id])).get(id)!;
    expect(r.status).toBe(TrialStatus.OK);
    expect(r.peakMemoryMb).toBeGreaterThan(0);
  });

  it('prefers the printed peak_vram_mb when there is no GPU sampler', async () => {
    const id = await h.queue(h.trial({ target: { env: { MODE: 'vram' } } }));
    expect((await h.waitResults([id])).get(id)!.peakMemoryMb).toBe(512.5);
  });

  it('gives the target a scrubbed environment', async () => {
    const id = await h.queue(h.trial({ target: { env: { MODE: 'env' } } }));
    const r = (await h.waitResults([id])).get(id)!;
    expect(r.status).toBe(TrialStatus.OK);
    expect(r.logTail).not.toContain('secret');
    expect(r.logTail).not.toContain(h.nats.url);
    for (const kv of [
      'TIME_BUDGET=1',
      'SEED=7',
      'DEPTH=4',
      'ARSWARM_STAGE=screen',
      `ARSWARM_TRIAL_ID=${id}`,
      'MODE=env',
    ]) {
      expect(r.logTail).toContain(`ENV ${kv}\n`);
    }
    expect(r.logTail).toMatch(/^ENV CUDA_VISIBLE_DEVICES=$/m);
    expect(r.logTail).toContain(`ENV DATASET_CACHE=${join(h.dir, 'dataset-cache')}\n`);
    expect(existsSync(join(h.dir, 'dataset-cache'))).toBe(true);
  });

  it('fetches a new commit incrementally and reports an unknown one as infra', async () => {
    const first = h.head;
    h.head = commitFiles(
      h.repo,
      { 'train.py': readFileSync(join(h.repo, 'train.py'), 'utf8').replace('LR = 0.01', 'LR = 0.5') },
      'next',
    );
    const id = await h.queue(h.trial());
    const bad = await h.queue(h.trial({ parentCommit: 'f'.repeat(40) }));
    const rs = await h.waitResults([id, bad]);
    expect(rs.get(id)!.metric).toBeCloseTo(1.5, 6);
    const fetch = h.fetches.find((f) => f.want === h.head)!;
    expect(fetch.have).toContain(first);
    expect(rs.get(bad)!.status).toBe(TrialStatus.INFRA);
    expect(rs.get(bad)!.reason).toContain('code fetch');
  });

  it('keeps logs on disk and removes work trees', async () => {
    const logsDir = join(h.dir, 'work', 'logs', 'w1');
    expect(readdirSync(logsDir).filter((f) => f.endsWith('.log')).length).toBeGreaterThan(5);
    await until(
      () => readdirSync(join(h.dir, 'work', 'trials', 'w1')).length === 0,
      5000,
      'work trees removed',
    );
    expect(existsSync(join(h.dir, 'work', 'cache', 'repo.git', 'HEAD'))).toBe(true);
    expect(logs.some((l) => l.startsWith('info trial finished'))).toBe(true);
  });
});
