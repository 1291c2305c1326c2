import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { names } from '../common/subjects.js';
import { LadderSchema } from '../gen/arswarm/v1/trial_pb.js';
import { pullPlan } from './ladder.js';

const n = names('t');
const ladder = create(LadderSchema, {
  stages: [
    { name: 'screen', index: 0 },
    { name: 'scale', index: 2, minGpuMemoryMb: 40_000 },
    { name: 'confirm', index: 1 },
  ],
});
const h100 = {
  gpuClass: 'H100-80GB',
  memoryMb: 81_559,
  gpu: { index: 0, name: 'H100', memoryMb: 81_559, uuid: 'u', gpuClass: 'H100-80GB' },
};
const a10 = {
  gpuClass: 'A10G-24GB',
  memoryMb: 23_028,
  gpu: { index: 1, name: 'A10G', memoryMb: 23_028, uuid: 'v', gpuClass: 'A10G-24GB' },
};

describe('pullPlan', () => {
  it('asks higher stages first, any before its own class, and long-polls the lowest stage', () => {
    const p = pullPlan(ladder, h100, n);
    expect(p.sweep.map((t) => t.consumer)).toEqual([
      'stage_scale_any',
      'stage_scale_H100-80GB',
      'stage_confirm_any',
      'stage_confirm_H100-80GB',
      'stage_screen_any',
      'stage_screen_H100-80GB',
    ]);
    expect(p.longPoll.map((t) => t.consumer)).toEqual(['stage_screen_H100-80GB', 'stage_screen_any']);
  });

  it('skips stages needing more GPU memory than the device has; CPU takes only stages without a floor', () => {
    expect(pullPlan(ladder, a10, n).sweep.map((t) => t.stage)).not.toContain('scale');
    const cpu = pullPlan(ladder, { gpuClass: 'cpu', memoryMb: 0 }, n);
    expect(cpu.sweep.map((t) => t.consumer)).toEqual([
      'stage_confirm_any',
      'stage_confirm_cpu',
      'stage_screen_any',
      'stage_screen_cpu',
    ]);
  });

  it('uses the same memory rule as the coordinator: a floor at exactly the device memory admits it', () => {
    const exact = create(LadderSchema, { stages: [{ name: 'scale', index: 0, minGpuMemoryMb: 23_028 }] });
    expect(pullPlan(exact, a10, n).sweep.map((t) => t.consumer)).toEqual([
      'stage_scale_any',
      'stage_scale_A10G-24GB',
    ]);
    expect(pullPlan(exact, { gpuClass: 'cpu', memoryMb: 0 }, n).sweep).toEqual([]);
    expect(pullPlan(exact, { gpuClass: 'cpu', memoryMb: 0 }, n).longPoll).toEqual([]);
  });
});
