/**
 * The worker side of mid-slot stopping, with one in-process worker (CPU mode),
 * a real nats-server and a trainer printing autoresearch's `\r` step lines:
 * live TrialProgress on core NATS with rising fractions and a binned curve on
 * the result; a stop request mid-run kills the whole process tree and reports
 * the trial STOPPED (acked, never redelivered) before the next trial runs; a
 * request after the run finds nobody stopping anything.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors, type Subscription } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../../common/codec.js';
import { DEFAULT_PROGRESS_PATTERN } from '../../common/curve.js';
import {
  StopTrialReplySchema,
  StopTrialRequestSchema,
  TrialProgressSchema,
  TrialStatus,
  type TrialProgress,
} from '../../gen/arswarm/v1/trial_pb.js';
import { Worker } from '../../worker/index.js';
import { alive, Harness, until, type StageInit } from '../support/worker-harness.js';

const ACK_WAIT_MS = 1500;
const PROGRESS_MS = 300;
const h = new Harness({ ackWaitMs: ACK_WAIT_MS });
let worker: Worker;
let sub: Subscription;
/** Every TrialProgress seen on names.progressAll, in arrival order. */
const progress: TrialProgress[] = [];
const PROGRESS = { pattern: DEFAULT_PROGRESS_PATTERN, lowerIsBetter: true };

const stage = (budgetSeconds: number): StageInit => ({
  ...h.stages[0]!,
  budgetSeconds,
  timeoutSeconds: budgetSeconds + 30,
});

const curveTrial = (budgetSeconds: number, env: Record<string, string> = {}, pattern = PROGRESS.pattern) =>
  h.trial({
    stage: stage(budgetSeconds),
    target: { env: { MODE: 'curve', ...env }, progress: { ...PROGRESS, pattern } },
  });

const of = (id: string) => progress.filter((p) => p.trialId === id);

/** A stop request's reply, or 'no responders'. */
async function requestStop(
  trialId: string,
  body?: Uint8Array,
): Promise<{ stopped: boolean; reason: string } | 'no responders'> {
  try {
    const m = await h.nc.request(
      h.names.stopTrial(trialId),
      body ?? encode(StopTrialRequestSchema, { trialId, reason: 'curve above the baseline at 20%' }),
      { timeout: 5000 },
    );
    const r = decode(StopTrialReplySchema, m.data);
    return { stopped: r.stopped, reason: r.reason };
  } catch (err) {
    if (err instanceof errors.NoRespondersError) return 'no responders';
    if (err instanceof errors.RequestError && err.isNoResponders()) return 'no responders';
    throw err;
  }
}

beforeAll(async () => {
  await h.start();
  sub = h.nc.subscribe(h.names.progressAll, {
    callback: (err, m) => {
      if (!err) progress.push(decode(TrialProgressSchema, m.data));
    },
  });
  worker = new Worker({
    natsUrl: h.nats.url,
    codeAddr: h.codeAddr,
    prefix: h.names.prefix,
    gpus: 'none',
    workDir: join(h.dir, 'work'),
    id: 'ms1',
    heartbeatMs: 100,
    killGraceMs: 300,
    pollExpiresMs: 300,
    progressIntervalMs: PROGRESS_MS,
    logger: () => undefined,
  });
  await worker.start();
});

afterAll(async () => {
  sub?.unsubscribe();
  await worker?.close();
  await h.stop();
});

describe('mid-slot stopping on the worker', () => {
  let finishedId = '';

  it('publishes live curve points with rising fractions, batched, and a binned curve on the result', async () => {
    const id = await h.queue(curveTrial(3));
    const r = (await h.waitResults([id], 30_000)).get(id)!;
    finishedId = id;
    expect(TrialStatus[r.status]).toBe('OK');
    // The final flush is published before the result.
    const msgs = of(id);
    expect(msgs.length).toBeGreaterThanOrEqual(3);
    // At most one message per interval (plus the final flush), ~50 points in all.
    expect(msgs.length).toBeLessThanOrEqual(Math.ceil(3000 / PROGRESS_MS) + 3);
    for (const m of msgs) {
      expect(m.workerId).toBe('ms1');
      expect(m.points.length).toBeGreaterThan(0);
    }
    const gaps = msgs.slice(1).map((m, i) => Number(m.sentAtMs - msgs[i]!.sentAtMs));
    // All but the final flush keep the interval (the clock is in whole ms).
    for (const g of gaps.slice(0, -1)) expect(g).toBeGreaterThanOrEqual(PROGRESS_MS - 1);
    const points = msgs.flatMap((m) => m.points);
    expect(points.length).toBeGreaterThan(20);
    for (let i = 1; i < points.length; i++) {
      expect(points[i]!.fraction).toBeGreaterThan(points[i - 1]!.fraction);
      expect(points[i]!.step).toBe(points[i - 1]!.step + 1n);
    }
    expect(points.at(-1)!.fraction).toBeGreaterThan(0.9);
    // The result's curve: the same run in at most 20 bins, loss falling.
    expect(r.curve.length).toBeGreaterThan(10);
    expect(r.curve.length).toBeLessThanOrEqual(20);
    for (let i = 1; i < r.curve.length; i++) {
      expect(r.curve[i]!.fraction).toBeGreaterThan(r.curve[i - 1]!.fraction);
      expect(r.curve[i]!.value).toBeLessThan(r.curve[i - 1]!.value);
    }
    expect(r.curve.at(-1)!.fraction).toBe(points.at(-1)!.fraction);
  }, 60_000);

  it('places points by its own clock over TIME_BUDGET when the pattern has no pct', async () => {
    const id = await h.queue(
      curveTrial(3, {}, String.raw`step\s+(?<step>\d+)\s+\([^)]*\)\s*\|\s*loss:\s*(?<value>[0-9.]+)`),
    );
    const r = (await h.waitResults([id], 30_000)).get(id)!;
    expect(TrialStatus[r.status]).toBe('OK');
    // A loaded host may start python late: some bins, rising, within the slot.
    expect(r.curve.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < r.curve.length; i++)
      expect(r.curve[i]!.fraction).toBeGreaterThan(r.curve[i - 1]!.fraction);
    for (const p of r.curve) expect(p.fraction).toBeLessThanOrEqual(1);
    // The worker's clock runs from the spawn, before python's own (4 - loss is the trainer's share
    // done): never behind it, and ahead by python's start-up (the trainer's pct would be equal).
    for (const p of r.curve) expect(4 - p.value).toBeLessThanOrEqual(p.fraction + 1e-9);
    expect(r.curve.some((p) => p.fraction > 4 - p.value + 0.005)).toBe(true);
  }, 60_000);

  it('runs without a curve on a pattern that does not compile', async () => {
    const id = await h.queue(curveTrial(1, {}, '(?<value>[0-9'));
    const r = (await h.waitResults([id], 30_000)).get(id)!;
    expect(TrialStatus[r.status]).toBe('OK');
    expect(r.curve).toEqual([]);
    expect(of(id)).toEqual([]);
  }, 60_000);

  it('stops a running trial on request: STOPPED with the reason, process tree gone, acked, next trial runs', async () => {
    const pidFile = join(h.dir, 'stop.pids');
    const id = await h.queue(curveTrial(30, { PID_FILE: pidFile }));
    const next = await h.queue(h.trial());
    await until(() => of(id).length >= 2, 30_000, 'progress of the trial to stop');
    const pids = await until(
      () => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) : undefined),
      5000,
      'the trainer pids',
    );
    expect(pids).toHaveLength(2);
    // Bad requests change nothing.
    expect(await requestStop(id, new Uint8Array([0xff, 0xff, 0xff]))).toMatchObject({
      stopped: false,
      reason: expect.stringMatching(/^malformed request: /),
    });
    expect(
      await requestStop(id, encode(StopTrialRequestSchema, { trialId: 'another', reason: 'x' })),
    ).toEqual({ stopped: false, reason: 'not running' });
    expect(pids.every(alive)).toBe(true);

    const asked = Date.now();
    expect(await requestStop(id)).toEqual({ stopped: true, reason: 'curve above the baseline at 20%' });
    // Asked again while it goes (as the coordinator does while progress comes): stopped, the first reason.
    const again = encode(StopTrialRequestSchema, { trialId: id, reason: 'asked again' });
    expect(await requestStop(id, again)).toEqual({
      stopped: true,
      reason: 'curve above the baseline at 20%',
    });
    const r = (await h.waitResults([id], 15_000)).get(id)!;
    expect(TrialStatus[r.status]).toBe('STOPPED');
    expect(r.reason).toBe('curve above the baseline at 20%');
    expect(r.metric).toBe(0);
    expect(Date.now() - asked).toBeLessThan(10_000);
    expect(r.runMs).toBeGreaterThan(0n);
    expect(r.runMs).toBeLessThan(30_000n);
    // The curve so far: points up to the stop, nowhere near the slot's end.
    expect(r.curve.length).toBeGreaterThan(0);
    expect(r.curve.at(-1)!.fraction).toBeLessThan(0.5);
    await until(() => pids.every((p) => !alive(p)), 5000, 'the stopped process tree to be gone');

    // The next queued trial runs at once.
    const rn = (await h.waitResults([next], 20_000)).get(next)!;
    expect(TrialStatus[rn.status]).toBe('OK');
    // Acked: past the ack wait, nothing pending or redelivered, one result for the stopped trial.
    await new Promise((res) => setTimeout(res, ACK_WAIT_MS + 500));
    const c = await h.jsm.consumers.info(h.names.trialsStream, h.names.stageConsumer('screen'));
    expect({ pending: c.num_pending, unacked: c.num_ack_pending, redelivered: c.num_redelivered }).toEqual({
      pending: 0,
      unacked: 0,
      redelivered: 0,
    });
    expect((await h.results()).filter((x) => x.trialId === id)).toHaveLength(1);
  }, 90_000);

  it('finds nobody to stop once a trial has finished', async () => {
    expect(finishedId).not.toBe('');
    expect(await requestStop(finishedId)).toBe('no responders');
  });
});
