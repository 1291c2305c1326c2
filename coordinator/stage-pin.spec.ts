import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  TrialKind,
  TrialResultSchema,
  TrialSchema,
  TrialStartedSchema,
  TrialStatus,
} from '../gen/arswarm/v1/trial_pb.js';
import type { FleetClass } from './fleet.js';
import type { TrialView } from './ledger/state.js';
import { effectiveClass, nextAttempt, pinStage, type PinInputs } from './stage-pin.js';

const H100: FleetClass = { gpuClass: 'H100-80GB', memoryMb: 81_559, workers: 1 };
const A10: FleetClass = { gpuClass: 'A10G-24GB', memoryMb: 23_028, workers: 1 };
const CPU: FleetClass = { gpuClass: 'cpu', memoryMb: 0, workers: 2 };
const confirm = { name: 'confirm', minGpuMemoryMb: 20_000 };

/** A trial of replicate r on a queue; `ran` is the class that ran it (a result), or undefined while queued. */
function tv(r: number, attempt: number, queue: string, ran?: string, status = TrialStatus.OK): TrialView {
  const trial = create(TrialSchema, {
    id: `c1.confirm.abc.r${r + 1}.a${attempt}`,
    kind: TrialKind.CANDIDATE,
    candidateId: 'c1',
    replicate: r,
    attempt,
    gpuClass: queue,
    stage: { name: 'confirm', index: 1, minGpuMemoryMb: 20_000 },
  });
  if (!ran) return { trial };
  return {
    trial,
    started: create(TrialStartedSchema, { trialId: trial.id, gpuClass: ran }),
    result: create(TrialResultSchema, { trialId: trial.id, status, gpuClass: ran, metric: 1 }),
  };
}

const inputs = (over: Partial<PinInputs>): PinInputs => ({
  stage: confirm,
  trials: [],
  fleet: [H100, A10, CPU],
  queued: new Map(),
  warm: true,
  baselineReady: () => true,
  replicates: 3,
  ...over,
});

describe('pinStage', () => {
  it('pins a new stage to an eligible live class (never one below the memory floor)', () => {
    const pin = pinStage(inputs({ queued: new Map([['A10G-24GB', 3]]) }));
    expect(pin).toMatchObject({ kind: 'pinned', gpuClass: 'H100-80GB', trials: [] });
    expect(pinStage(inputs({ fleet: [CPU] }))).toEqual({
      kind: 'waiting',
      reason: 'confirm: waiting for a worker with >= 20000 MB',
    });
  });

  it('keeps the class of the latest class-bound trial, and counts only that class', () => {
    const trials = [tv(0, 1, 'A10G-24GB', 'A10G-24GB'), tv(1, 1, 'A10G-24GB')];
    const pin = pinStage(inputs({ trials }));
    expect(pin).toMatchObject({ kind: 'pinned', gpuClass: 'A10G-24GB' });
    expect(pin.kind === 'pinned' && pin.trials).toHaveLength(2);
  });

  it('re-routes to another eligible class when the pinned one has no live worker left', () => {
    const trials = [tv(0, 1, 'A10G-24GB', 'A10G-24GB'), tv(1, 1, 'A10G-24GB'), tv(2, 1, 'A10G-24GB')];
    const pin = pinStage(inputs({ trials, fleet: [H100, CPU] }));
    expect(pin).toEqual({ kind: 'pinned', gpuClass: 'H100-80GB', trials: [], reroutedFrom: 'A10G-24GB' });
  });

  it('does not re-route while the fleet view may still be missing heartbeats, or with nowhere to go', () => {
    const trials = [tv(0, 1, 'A10G-24GB')];
    expect(pinStage(inputs({ trials, fleet: [H100, CPU], warm: false }))).toMatchObject({
      kind: 'pinned',
      gpuClass: 'A10G-24GB',
      waiting: 'confirm: waiting for a A10G-24GB worker',
    });
    expect(pinStage(inputs({ trials, fleet: [CPU] }))).toMatchObject({ gpuClass: 'A10G-24GB' });
  });

  it('keeps a finished stage on a class that left when its runs and baseline are complete', () => {
    const trials = [0, 1, 2].map((r) => tv(r, 1, 'A10G-24GB', 'A10G-24GB'));
    expect(pinStage(inputs({ trials, fleet: [H100] }))).toMatchObject({ gpuClass: 'A10G-24GB' });
    expect(pinStage(inputs({ trials, fleet: [H100], baselineReady: () => false }))).toMatchObject({
      gpuClass: 'H100-80GB',
      reroutedFrom: 'A10G-24GB',
    });
  });

  it('lets trials queued before any worker was seen run, then adopts the class most of them ran on', () => {
    const queued = [tv(0, 1, 'any'), tv(1, 1, 'any', 'A10G-24GB')];
    expect(pinStage(inputs({ trials: queued }))).toMatchObject({ kind: 'unpinned' });
    const split = [tv(0, 1, 'any', 'A10G-24GB'), tv(1, 1, 'any', 'H100-80GB'), tv(2, 1, 'any', 'A10G-24GB')];
    const pin = pinStage(inputs({ trials: split }));
    expect(pin).toMatchObject({ kind: 'pinned', gpuClass: 'A10G-24GB' });
    expect(pin.kind === 'pinned' && pin.trials.map((t) => t.trial.replicate)).toEqual([0, 2]);
    // No worker seen at all: a new stage goes to `any`.
    expect(pinStage(inputs({ fleet: [] }))).toEqual({ kind: 'unpinned', trials: [] });
  });

  it('knows which class ran an unbound trial, and numbers attempts across classes', () => {
    expect(effectiveClass(tv(0, 1, 'any'))).toBe('any');
    expect(effectiveClass(tv(0, 1, 'any', 'cpu'))).toBe('cpu');
    const trials = [
      tv(0, 1, 'A10G-24GB', 'A10G-24GB', TrialStatus.INFRA),
      tv(0, 2, 'H100-80GB'),
      tv(1, 1, 'x'),
    ];
    expect(nextAttempt(trials, 0)).toBe(3);
    expect(nextAttempt(trials, 1)).toBe(2);
    expect(nextAttempt(trials, 2)).toBe(1);
  });
});
