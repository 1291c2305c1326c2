import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { EventSchema } from '../gen/arswarm/v1/event_pb.js';
import { TrialKind, TrialSchema, TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { ArswarmError, Code } from '../common/errors.js';
import { LedgerState } from './ledger/state.js';
import { originalOf, rerunOf } from './rerun.js';

type Body = MessageInitShape<typeof EventSchema>['body'];

const baseline = create(TrialSchema, {
  id: 'b.abc.screen.cpu.0',
  kind: TrialKind.BASELINE,
  parentCommit: 'abc',
  seed: 42,
  replicate: 0,
  attempt: 2,
  gpuClass: 'any',
  stage: { name: 'screen', index: 0, env: { DEPTH: '4' } },
  target: { command: 'python3 train.py', lockedSha256: { 'prepare.py': 'ff' } },
});

function stateWithFinishedBaseline() {
  const s = new LedgerState(['screen']);
  let seq = 0n;
  const apply = (body: Body) => s.apply(create(EventSchema, { seq: ++seq, body }));
  apply({ case: 'trialQueued', value: { trial: baseline } });
  apply({
    case: 'trialFinished',
    value: { result: { trialId: baseline.id, status: TrialStatus.OK, metric: 1.5, gpuClass: 'cpu' } },
  });
  return { s, apply };
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as ArswarmError).code;
  }
  return undefined;
};

describe('rerunOf', () => {
  it('copies the trial exactly, pinned to the class of its result, under the next free id', () => {
    const { s, apply } = stateWithFinishedBaseline();
    const t = rerunOf(s, baseline.id, 1000);
    expect(t.id).toBe(`${baseline.id}.rerun1`);
    expect(originalOf(t.id)).toBe(baseline.id);
    expect(t.kind).toBe(TrialKind.RERUN);
    expect([t.parentCommit, t.seed, t.replicate, t.stage, t.target]).toEqual([
      'abc',
      42,
      0,
      baseline.stage,
      baseline.target,
    ]);
    expect(t.gpuClass).toBe('cpu');
    apply({ case: 'trialQueued', value: { trial: t } });
    expect(rerunOf(s, baseline.id, 1001).id).toBe(`${baseline.id}.rerun2`);
  });

  it('keeps reruns out of the trials, counts, samples and budget the ladder reads', () => {
    const { s, apply } = stateWithFinishedBaseline();
    const before = {
      trials: s.trials.size,
      finished: s.finished,
      counts: structuredClone(s.stageCounts.get('screen')),
      samples: s.baseline('abc', 'screen', 'cpu').length,
    };
    const t = rerunOf(s, baseline.id, 1000);
    apply({ case: 'trialQueued', value: { trial: t } });
    apply({ case: 'trialStarted', value: { trialId: t.id, workerId: 'w1' } });
    apply({
      case: 'trialFinished',
      value: { result: { trialId: t.id, status: TrialStatus.OK, metric: 1.5, gpuClass: 'cpu' } },
    });
    // A result whose TrialQueued never reached the ledger is a rerun too, by its kind.
    const lost = rerunOf(s, baseline.id, 1001);
    apply({
      case: 'trialFinished',
      value: { result: { trialId: lost.id, status: TrialStatus.OK, metric: 1.5, trial: lost } },
    });
    expect({
      trials: s.trials.size,
      finished: s.finished,
      counts: s.stageCounts.get('screen'),
      samples: s.baseline('abc', 'screen', 'cpu').length,
    }).toEqual(before);
    expect(s.pending.size).toBe(0);
    expect(s.reruns.get(t.id)?.started?.workerId).toBe('w1');
    expect(s.reruns.get(t.id)?.result?.metric).toBe(1.5);
    expect(s.reruns.get(lost.id)?.result?.status).toBe(TrialStatus.OK);
  });

  it('refuses an unknown trial, one not finished, and a rerun', () => {
    const { s, apply } = stateWithFinishedBaseline();
    expect(codeOf(() => rerunOf(s, 'nope', 0))).toBe(Code.NotFound);
    apply({ case: 'trialQueued', value: { trial: { ...baseline, id: 'queued' } } });
    expect(codeOf(() => rerunOf(s, 'queued', 0))).toBe(Code.FailedPrecondition);
    const t = rerunOf(s, baseline.id, 0);
    apply({ case: 'trialQueued', value: { trial: t } });
    expect(codeOf(() => rerunOf(s, t.id, 0))).toBe(Code.FailedPrecondition);
  });
});
