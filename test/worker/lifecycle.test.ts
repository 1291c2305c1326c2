/**
 * Worker processes started through the real CLI and stopped the hard ways:
 * SIGTERM during a trial (finished within the drain deadline, or handed back
 * as infra after it), and kill -9 mid-trial (redelivered after the ack wait,
 * one result for the trial id, the orphaned run killed on restart).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { alive, exited, Harness, until } from '../support/worker-harness.js';

const ACK_WAIT_MS = 1500;
const h = new Harness({ ackWaitMs: ACK_WAIT_MS });
const children: ReturnType<Harness['spawnWorker']>[] = [];

function spawn(id: string, extra: string[] = []) {
  const c = h.spawnWorker(id, extra);
  children.push(c);
  return c;
}

async function runningPids(pidFile: string): Promise<number[]> {
  return until(
    () =>
      existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim()
        ? readFileSync(pidFile, 'utf8').trim().split(' ').map(Number)
        : undefined,
    40_000,
    `the trial to start (${pidFile})`,
  );
}

async function pending() {
  const c = await h.jsm.consumers.info(h.names.trialsStream, h.names.stageConsumer('screen'));
  return { waiting: c.num_pending, unacked: c.num_ack_pending };
}

beforeAll(async () => {
  await h.start();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await h.stop();
});

describe('worker lifecycle', () => {
  it('SIGTERM lets the current trial finish within the drain deadline, then exits 0', async () => {
    const pidFile = join(h.dir, 'drain-ok.pid');
    const w = spawn('drainer', ['--drain-timeout-ms', '20000']);
    const id = await h.queue(
      h.trial({ target: { env: { MODE: 'sleep', SLEEP_S: '1.5', PID_FILE: pidFile } } }),
    );
    await runningPids(pidFile);
    // Queued behind it: a draining worker neither runs it nor holds it (no pull when its run exits).
    const next = await h.queue(h.trial({ target: { env: { MODE: 'ok' } } }));
    w.kill('SIGTERM');
    expect(await exited(w)).toBe(0);
    const r = (await h.waitResults([id], 40_000)).get(id)!;
    expect(r.status).toBe(TrialStatus.OK);
    expect(await pending()).toEqual({ waiting: 1, unacked: 0 });
    // Another worker takes it at once, not after an ack wait.
    const after = spawn('after-drain');
    expect((await h.waitResults([next], 40_000)).get(next)!.status).toBe(TrialStatus.OK);
    expect(await pending()).toEqual({ waiting: 0, unacked: 0 });
    after.kill('SIGTERM');
    expect(await exited(after)).toBe(0);
  }, 90_000);

  it('SIGTERM past the drain deadline kills the run and hands the trial back as infra', async () => {
    const pidFile = join(h.dir, 'drain-late.pid');
    const w = spawn('late', ['--drain-timeout-ms', '200']);
    const id = await h.queue(
      h.trial({ target: { env: { MODE: 'sleep', SLEEP_S: '60', PID_FILE: pidFile } } }),
    );
    const [pid] = await runningPids(pidFile);
    w.kill('SIGTERM');
    expect(await exited(w)).toBe(0);
    const r = (await h.waitResults([id], 40_000)).get(id)!;
    expect(r.status).toBe(TrialStatus.INFRA);
    expect(r.reason).toBe('worker shutting down');
    expect(alive(pid!)).toBe(false);
    // Acked: the coordinator re-queues infra failures as a new attempt; this one is done.
    expect(await pending()).toEqual({ waiting: 0, unacked: 0 });
    // The new attempt (as the coordinator queues it) finishes on another worker.
    const other = spawn('elsewhere');
    const retry = await h.queue(h.trial({ id: `${id}-a2`, attempt: 2, target: { env: { MODE: 'ok' } } }));
    const r2 = (await h.waitResults([retry], 40_000)).get(retry)!;
    expect([r2.status, r2.workerId]).toEqual([TrialStatus.OK, 'elsewhere']);
    other.kill('SIGTERM');
    expect(await exited(other)).toBe(0);
  }, 90_000);

  it('kill -9 mid-trial: redelivered after the ack wait, one result, orphan killed on restart', async () => {
    const pidFile = join(h.dir, 'killed.pid');
    const first = spawn('phoenix');
    // Only the first run sleeps long, so the orphan is alive until the restarted worker kills it.
    const once = join(h.dir, 'killed.once');
    const id = await h.queue(
      h.trial({ target: { env: { MODE: 'sleep', SLEEP_S: '120', PID_FILE: pidFile, ONCE_FILE: once } } }),
    );
    const [orphan] = await runningPids(pidFile);
    first.kill('SIGKILL');
    await exited(first);
    expect(alive(orphan!)).toBe(true);
    // The same worker comes back (a pod restart): it kills what its predecessor left running.
    const again = spawn('phoenix');
    await until(
      () => again.output.join('').includes('killed a trial left running by a previous worker process'),
      40_000,
      'the restarted worker to kill the orphaned run',
    );
    await until(() => !alive(orphan!), 5000, 'the orphaned run to be gone');
    const r = (await h.waitResults([id], 40_000)).get(id)!;
    expect(r.status).toBe(TrialStatus.OK);
    expect(r.trial?.id).toBe(id);
    expect(r.workerId).toBe('phoenix');
    // A redelivery (2 unless the machine was so slow that the ack wait lapsed once more).
    expect(again.output.join('')).toMatch(new RegExp(`"trialId":"${id}","delivery":([2-9]|\\d\\d)`));
    const all = (await h.results()).filter((x) => x.trialId === id);
    expect(all).toHaveLength(1);
    again.kill('SIGTERM');
    expect(await exited(again)).toBe(0);
  }, 90_000);
});
