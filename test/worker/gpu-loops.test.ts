/**
 * A worker process on a host with two fake GPUs of different classes: one
 * loop per GPU, each with its own CUDA_VISIBLE_DEVICES, class and heartbeat;
 * a stage with a memory floor only goes to the GPU that has the memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode } from '../../common/codec.js';
import { TrialStatus, WorkerHeartbeatSchema, WorkerState } from '../../gen/arswarm/v1/trial_pb.js';
import { exited, fakeGpuPath, Harness, until } from '../support/worker-harness.js';

const h = new Harness({
  classes: ['H100-80GB', 'A10G-24GB'],
  stages: [
    { name: 'screen', index: 0, budgetSeconds: 1, timeoutSeconds: 20 },
    { name: 'big', index: 1, budgetSeconds: 1, timeoutSeconds: 20, minGpuMemoryMb: 40_000 },
  ],
});
let worker: ReturnType<Harness['spawnWorker']>;

async function heartbeat(key: string) {
  const e = await h.kv.workers.get(key);
  return e?.value.length ? decode(WorkerHeartbeatSchema, e.value) : undefined;
}

beforeAll(async () => {
  await h.start();
  const env = {
    ...process.env,
    PATH: `${fakeGpuPath(h.dir)}:${process.env.PATH}`,
    FAKE_NVIDIA_SMI_USED_MB: '2048',
  };
  worker = h.spawnWorker('gpuhost', ['--gpus', 'all'], env);
});

afterAll(async () => {
  if (worker.exitCode === null) worker.kill('SIGKILL');
  await h.stop();
});

describe('one loop per GPU', () => {
  it('runs each class’s trials on its own GPU with the right CUDA_VISIBLE_DEVICES', async () => {
    // Long enough for the memory sampler (first sample after 100 ms) even on a busy machine.
    const cmd = { env: { MODE: 'cvd', SLEEP_S: '2' } };
    const onH100 = await h.queue(h.trial({ target: cmd }), 'screen', 'H100-80GB');
    const onA10 = await h.queue(h.trial({ target: cmd }), 'screen', 'A10G-24GB');
    const big = await h.queue(h.trial({ target: cmd, stage: h.stages[1] }), 'big');
    const rs = await h.waitResults([onH100, onA10, big], 40_000);
    const seen = [onH100, onA10, big].map((id) => {
      const r = rs.get(id)!;
      return [r.status, r.workerId, r.gpuClass, r.metrics.cvd];
    });
    expect(seen).toEqual([
      [TrialStatus.OK, 'gpuhost-gpu0', 'H100-80GB', 0],
      [TrialStatus.OK, 'gpuhost-gpu1', 'A10G-24GB', 1],
      [TrialStatus.OK, 'gpuhost-gpu0', 'H100-80GB', 0],
    ]);
    // Peak memory comes from the (fake) nvidia-smi sampler: whole multiples of its 2048 MiB per process.
    const peak = rs.get(onA10)!.peakMemoryMb;
    expect(peak).toBeGreaterThan(0);
    expect(peak % 2048).toBe(0);
  }, 90_000);

  it('sends one heartbeat per loop with its class and GPU index', async () => {
    const [g0, g1] = await until(
      async () => {
        const b = [await heartbeat('gpuhost-gpu0'), await heartbeat('gpuhost-gpu1')];
        return b[0]?.trialsDone === 2n && b[1]?.trialsDone === 1n ? b : undefined;
      },
      10_000,
      'heartbeats of both loops',
    );
    expect([g0!.gpuClass, g0!.gpuIndex, g0!.gpuMemoryMb]).toEqual(['H100-80GB', '0', 81559n]);
    expect([g1!.gpuClass, g1!.gpuIndex, g1!.gpuMemoryMb]).toEqual(['A10G-24GB', '1', 23028n]);
  });

  it('exits 0 on SIGTERM when idle and says it stopped', async () => {
    worker.kill('SIGTERM');
    expect(await exited(worker)).toBe(0);
    expect((await heartbeat('gpuhost-gpu1'))?.state).toBe(WorkerState.STOPPED);
    expect(worker.output.join('')).toContain('"class":"A10G-24GB"');
  });
});
