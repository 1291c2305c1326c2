import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { EventSchema } from '../gen/arswarm/v1/event_pb.js';
import { StageSchema, TrialKind, TrialSchema } from '../gen/arswarm/v1/trial_pb.js';
import type { FleetClass } from './fleet.js';
import { LedgerState } from './ledger/state.js';
import { queuedByClass, runnablePending, stageWarnings, waitingLines, waitingWork } from './waiting.js';

type Body = MessageInitShape<typeof EventSchema>['body'];

const stages = [
  create(StageSchema, { name: 'screen', index: 0 }),
  create(StageSchema, { name: 'confirm', index: 1, minGpuMemoryMb: 20_000 }),
  create(StageSchema, { name: 'scale', index: 2, minGpuMemoryMb: 40_000 }),
];
const CPU: FleetClass = { gpuClass: 'cpu', memoryMb: 0, workers: 2 };
const A10: FleetClass = { gpuClass: 'A10G-24GB', memoryMb: 23_028, workers: 1 };
const H100: FleetClass = { gpuClass: 'H100-80GB', memoryMb: 81_559, workers: 1 };

function ledger() {
  const s = new LedgerState(stages.map((x) => x.name));
  let seq = 0n;
  const apply = (body: Body) => s.apply(create(EventSchema, { seq: ++seq, body }));
  const queue = (id: string, stage: number, gpuClass: string, kind = TrialKind.BASELINE) =>
    apply({
      case: 'trialQueued',
      value: { trial: create(TrialSchema, { id, kind, stage: stages[stage], gpuClass, candidateId: 'cx' }) },
    });
  return { s, apply, queue };
}

describe('waiting work', () => {
  it('counts only what a live worker can run, and says what the rest waits for', () => {
    const { s, apply, queue } = ledger();
    queue('b.screen.cpu', 0, 'cpu');
    queue('b.confirm.a10', 1, 'A10G-24GB');
    queue('b.scale.h100', 2, 'H100-80GB');
    queue('c.scale.any', 2, 'any', TrialKind.CANDIDATE);
    apply({
      case: 'trialStarted',
      value: { trialId: 'b.confirm.a10', workerId: 'a1', gpuClass: 'A10G-24GB' },
    });
    const fleet = [CPU, A10];
    // The H100 queue and the scale floor wait; a trial started on a class that left waits for it too.
    expect(runnablePending(s, fleet)).toBe(2);
    expect(runnablePending(s, [CPU, A10, H100])).toBe(4);
    expect(runnablePending(s, [CPU])).toBe(1);
    expect(waitingWork(s, stages, [CPU]).get('confirm')).toEqual({
      trials: 1,
      candidates: 0,
      waitingFor: 'a worker with >= 20000 MB',
    });
    expect(queuedByClass(s)).toEqual(
      new Map([
        ['cpu', 1],
        ['H100-80GB', 1],
        ['any', 1],
      ]),
    );
    const w = waitingWork(s, stages, fleet);
    expect(w.get('screen')).toEqual({ trials: 0, candidates: 0, waitingFor: '' });
    expect(w.get('scale')).toEqual({ trials: 2, candidates: 0, waitingFor: 'a worker with >= 40000 MB' });
    expect(waitingLines(w)).toEqual(['scale: 2 trials waiting for a worker with >= 40000 MB']);
  });

  it('names a class that left when its stage can still run elsewhere, and counts candidates with nothing queued', () => {
    const { s, apply, queue } = ledger();
    queue('b.confirm.a10', 1, 'A10G-24GB');
    apply({
      case: 'candidateProposed',
      value: { candidate: { id: 'c1', parentCommit: 'p', diff: 'd', title: 't' } },
    });
    apply({ case: 'verdict', value: { candidateId: 'c1', kind: VerdictKind.PROMOTE, stage: 'screen' } });
    apply({ case: 'verdict', value: { candidateId: 'c1', kind: VerdictKind.PROMOTE, stage: 'confirm' } });
    expect(s.candidates.get('c1')!.stageIndex).toBe(2);
    const w = waitingWork(s, stages, [CPU, { ...H100, gpuClass: 'H100-94GB', memoryMb: 30_000 }]);
    expect(w.get('confirm')).toEqual({ trials: 1, candidates: 0, waitingFor: 'a A10G-24GB worker' });
    expect(w.get('scale')).toEqual({ trials: 0, candidates: 1, waitingFor: 'a worker with >= 40000 MB' });
    expect(waitingLines(w)).toEqual([
      'confirm: 1 trial waiting for a A10G-24GB worker',
      'scale: 1 candidate waiting for a worker with >= 40000 MB',
    ]);
  });

  it('warns about stages no live worker can run, once workers are known', () => {
    expect(stageWarnings(stages, [])).toEqual([]);
    expect(stageWarnings(stages, [CPU, A10, H100])).toEqual([]);
    expect(stageWarnings(stages, [CPU, A10])).toEqual([
      'stage scale needs a worker with >= 40000 MB of GPU memory; the live workers have at most 23028 MB on A10G-24GB: its candidates wait',
    ]);
  });
});
