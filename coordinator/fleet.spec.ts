import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { WorkerHeartbeatSchema } from '../gen/arswarm/v1/trial_pb.js';
import { chooseClass, eligibleClasses, fleetOf, unrunnableStage } from './fleet.js';

const hb = (workerId: string, gpuClass: string, mb: number) =>
  create(WorkerHeartbeatSchema, { workerId, gpuClass, gpuMemoryMb: BigInt(mb) });

const fleet = fleetOf([
  hb('c1', 'cpu', 0),
  hb('c2', 'cpu', 0),
  hb('h1', 'H100-80GB', 81_559),
  hb('a1', 'A10G-24GB', 23_028),
  hb('a2', 'A10G-24GB', 22_990),
]);
const screen = { name: 'screen', minGpuMemoryMb: 0 };
const confirm = { name: 'confirm', minGpuMemoryMb: 20_000 };
const scale = { name: 'scale', minGpuMemoryMb: 40_000 };

describe('fleet', () => {
  it('groups live workers by class; a class has the memory of its smallest device', () => {
    expect(fleet).toEqual([
      { gpuClass: 'A10G-24GB', memoryMb: 22_990, workers: 2 },
      { gpuClass: 'H100-80GB', memoryMb: 81_559, workers: 1 },
      { gpuClass: 'cpu', memoryMb: 0, workers: 2 },
    ]);
    expect(fleetOf([])).toEqual([]);
  });

  it('lets CPU classes run only stages without a floor, GPU classes those their memory meets', () => {
    const names = (s: typeof screen) => eligibleClasses(s, fleet).map((c) => c.gpuClass);
    expect(names(screen)).toEqual(['A10G-24GB', 'H100-80GB', 'cpu']);
    expect(names(confirm)).toEqual(['A10G-24GB', 'H100-80GB']);
    expect(names(scale)).toEqual(['H100-80GB']);
    expect(names({ name: 'exact', minGpuMemoryMb: 22_990 })).toEqual(['A10G-24GB', 'H100-80GB']);
  });

  it('pins to the eligible class with the least queued work per worker, spreading by capacity', () => {
    expect(chooseClass(scale, fleet, new Map())).toBe('H100-80GB');
    // Empty queues: the bigger class first (ties by name), so two workers are used before one.
    expect(chooseClass(screen, fleet, new Map())).toBe('A10G-24GB');
    expect(chooseClass(screen, fleet, new Map([['A10G-24GB', 2]]))).toBe('cpu');
    expect(
      chooseClass(
        screen,
        fleet,
        new Map([
          ['A10G-24GB', 2],
          ['cpu', 4],
        ]),
      ),
    ).toBe('H100-80GB');
    expect(chooseClass({ name: 'huge', minGpuMemoryMb: 100_000 }, fleet, new Map())).toBeUndefined();
    expect(chooseClass(screen, [], new Map())).toBeUndefined();
  });

  it('says why a stage cannot run, naming the floor and the largest live GPU', () => {
    expect(unrunnableStage(scale, fleet)).toBeUndefined();
    const small = fleet.filter((c) => c.gpuClass !== 'H100-80GB');
    expect(unrunnableStage(scale, small)).toBe(
      'stage scale needs a worker with >= 40000 MB of GPU memory; the live workers have at most 22990 MB on A10G-24GB: its candidates wait',
    );
    expect(
      unrunnableStage(
        confirm,
        fleet.filter((c) => c.gpuClass === 'cpu'),
      ),
    ).toBe(
      'stage confirm needs a worker with >= 20000 MB of GPU memory; the live workers have at most CPU workers only: its candidates wait',
    );
  });
});
