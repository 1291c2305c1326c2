import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuClass, marketedGb, parseGpuCsv, selectDevices } from './gpus.js';

const FAKE = join(import.meta.dirname, '..', 'test', 'support', 'fake-nvidia-smi');

describe('gpu classes', () => {
  it.each([
    ['NVIDIA H100 80GB HBM3', 81559, 'H100-80GB'],
    ['NVIDIA A100-SXM4-40GB', 40960, 'A100-40GB'],
    ['NVIDIA A10G', 23028, 'A10G-24GB'],
    ['NVIDIA GeForce RTX 3090', 24576, 'RTX3090-24GB'],
    ['Tesla T4', 15360, 'T4-16GB'],
    ['NVIDIA H100 NVL', 95830, 'H100-94GB'],
  ])('%s (%i MiB) -> %s', (name, mb, want) => {
    expect(gpuClass(name, mb)).toBe(want);
  });

  it('rounds odd sizes to whole GiB', () => {
    expect(marketedGb(7000)).toBe(7);
  });

  it('parses CSV with or without units', () => {
    const g = parseGpuCsv('0, NVIDIA A10G, 23028 MiB, GPU-1\n1, NVIDIA A10G, 23028, GPU-2\n');
    expect(g.map((x) => [x.index, x.memoryMb, x.gpuClass])).toEqual([
      [0, 23028, 'A10G-24GB'],
      [1, 23028, 'A10G-24GB'],
    ]);
    expect(() => parseGpuCsv('garbage')).toThrow(/cannot parse/);
  });
});

describe('selectDevices', () => {
  it('uses every GPU nvidia-smi lists, or the chosen ones', async () => {
    const all = await selectDevices('all', FAKE);
    expect(all.map((d) => [d.gpu?.index, d.gpuClass])).toEqual([
      [0, 'H100-80GB'],
      [1, 'A10G-24GB'],
    ]);
    const one = await selectDevices([1], FAKE);
    expect(one.map((d) => d.gpuClass)).toEqual(['A10G-24GB']);
    await expect(selectDevices([5], FAKE)).rejects.toThrow(/no GPU with index 5/);
  });

  it('falls back to CPU mode without nvidia-smi, or with none', async () => {
    expect(await selectDevices('all', '/nonexistent/nvidia-smi')).toEqual([{ gpuClass: 'cpu', memoryMb: 0 }]);
    expect(await selectDevices('none', FAKE)).toEqual([{ gpuClass: 'cpu', memoryMb: 0 }]);
  });
});
