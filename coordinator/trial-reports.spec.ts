import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { encode } from '../common/codec.js';
import { names as makeNames } from '../common/subjects.js';
import {
  TrialKind,
  TrialResultSchema,
  TrialSchema,
  TrialStartedSchema,
  TrialStatus,
} from '../gen/arswarm/v1/trial_pb.js';
import { Ledger, memoryStore, type EventStore } from './ledger/ledger.js';
import { recordReports } from './trial-reports.js';

const n = makeNames('reports');

function trial(id: string, candidateId = 'c00001') {
  return create(TrialSchema, { id, kind: TrialKind.CANDIDATE, candidateId, stage: { name: 'screen' } });
}
const started = (trialId: string, workerId: string) => ({
  subject: n.resultStarted,
  data: encode(TrialStartedSchema, { trialId, workerId }),
});
const finished = (trialId: string, metric = 1) => ({
  subject: n.resultFinished,
  data: encode(TrialResultSchema, { trialId, status: TrialStatus.OK, metric, workerId: 'w1' }),
});

async function setup(store: EventStore = memoryStore()) {
  const ledger = await Ledger.open(store, ['screen']);
  for (const id of ['t1', 't2', 't3'])
    await ledger.append({ case: 'trialQueued', value: { trial: trial(id) } });
  await ledger.append({ case: 'trialQueued', value: { trial: trial('t4', 'c00002') } });
  const judged: string[] = [];
  const logs: string[] = [];
  const deps = {
    ledger,
    names: n,
    onCandidateResult: async (cid: string) => void judged.push(cid),
    log: (m: string) => void logs.push(m),
  };
  return { ledger, judged, logs, deps };
}

describe('recordReports', () => {
  it('records a batch as one-by-one handling would: in order, each fact once, judging each candidate once', async () => {
    const { ledger, judged, deps } = await setup();
    const seen: string[] = [];
    ledger.onEvent((ev) =>
      seen.push(
        `${ev.body.case}:${ev.body.case === 'trialFinished' ? ev.body.value.result!.trialId : ev.body.case === 'trialStarted' ? ev.body.value.trialId : ''}`,
      ),
    );
    const out = await recordReports(
      [
        started('t1', 'w1'),
        started('t1', 'w1'), // the same worker again: nothing new
        finished('t1'),
        started('t1', 'w2'), // after its result: ignored
        finished('t1', 2), // a redelivery: counted once
        started('t2', 'w2'),
        finished('t4'),
        finished('t2'),
        started('nope', 'w1'), // not a queued trial
        { subject: n.resultFinished, data: new Uint8Array([0xff, 0xff, 0xff]) },
      ],
      deps,
    );
    expect(seen).toEqual([
      'trialStarted:t1',
      'trialFinished:t1',
      'trialStarted:t2',
      'trialFinished:t4',
      'trialFinished:t2',
    ]);
    expect(out).toEqual(['ack', 'ack', 'ack', 'ack', 'ack', 'ack', 'ack', 'ack', 'ack', 'term']);
    expect(judged).toEqual(['c00001', 'c00002']);
    expect(ledger.state.trials.get('t1')!.result!.metric).toBe(1);
    expect(ledger.state.finished).toBe(3);
    // A later batch repeating a finished trial adds nothing but still judges its candidate.
    await recordReports([finished('t2', 5)], deps);
    expect(seen).toHaveLength(5);
    expect(ledger.state.trials.get('t2')!.result!.metric).toBe(1);
  });

  it('naks the reports whose facts were not stored and keeps the others', async () => {
    const inner = memoryStore();
    let failNext = false;
    const store: EventStore = {
      append: (data, id) => {
        if (failNext && id === 'f.t2') return Promise.reject(new Error('stream unavailable'));
        return inner.append(data, id);
      },
      read: (from) => inner.read(from),
    };
    const { ledger, judged, logs, deps } = await setup(store);
    failNext = true;
    const out = await recordReports([finished('t1'), finished('t2'), finished('t3')], deps);
    expect(out).toEqual(['ack', 'nak', 'ack']);
    expect(ledger.state.trials.get('t2')!.result).toBeUndefined();
    expect(ledger.state.trials.get('t3')!.result).toBeDefined();
    expect(judged).toEqual(['c00001']);
    expect(logs.join('\n')).toContain('stream unavailable');
  });

  it('naks the results of a candidate whose judging failed', async () => {
    const { deps } = await setup();
    const out = await recordReports([finished('t1'), finished('t4')], {
      ...deps,
      onCandidateResult: async (cid) => {
        if (cid === 'c00002') throw new Error('git failed');
      },
    });
    expect(out).toEqual(['ack', 'nak']);
  });
});
