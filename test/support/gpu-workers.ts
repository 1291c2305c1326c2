/**
 * Test support: real `arswarm worker --gpus all` processes that join a local
 * swarm with fake GPUs — the fake nvidia-smi first on PATH, its GPUs from
 * FAKE_NVIDIA_SMI_GPUS — as a person joins a GPU box to a running swarm.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalSwarm } from './local-swarm.js';
import { workerArgv } from './local-swarm.js';
import { fakeGpuPath } from './worker-harness.js';

/** An nvidia-smi CSV line for one fake GPU. */
export interface FakeGpu {
  /** As nvidia-smi names it, e.g. `NVIDIA H100 80GB HBM3`. */
  name: string;
  memoryMib: number;
}

/** Starts a worker process with these fake GPUs (one trial loop each); it is stopped with the swarm. */
export function startGpuWorker(
  swarm: LocalSwarm,
  id: string,
  gpus: readonly FakeGpu[],
  log: (line: string) => void = () => undefined,
): ChildProcess {
  const bin = join(swarm.dir, 'fake-bin');
  if (!existsSync(join(bin, 'nvidia-smi'))) fakeGpuPath(swarm.dir);
  const csv = gpus.map((g, i) => `${i}, ${g.name}, ${g.memoryMib} MiB, GPU-${id}-${i}`).join('\n');
  const w = spawn(
    process.execPath,
    workerArgv(
      {
        natsUrl: swarm.nats.url,
        codePort: swarm.coordinator.grpcPort,
        prefix: swarm.config.swarm.prefix,
        gpus: 'all',
        workDir: join(swarm.dir, `w-${id}`),
      },
      ['--id', id, '--heartbeat-ms', '500', '--token-file', join(swarm.stateDir, 'worker-token')],
    ),
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, FAKE_NVIDIA_SMI_GPUS: csv },
    },
  );
  w.stderr?.on('data', (d: Buffer) => log(`[${id}] ${d.toString().trim()}`));
  swarm.workers.push(w);
  return w;
}
