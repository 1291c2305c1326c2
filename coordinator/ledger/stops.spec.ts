import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { EventSchema, StopEvidenceSchema, TrialStoppedSchema } from '../../gen/arswarm/v1/event_pb.js';
import { deserializeState, serializeState } from './snapshot.js';
import { LedgerState } from './state.js';

describe('TrialStopped in the ledger state', () => {
  const stop = create(TrialStoppedSchema, {
    trialId: 't1',
    candidateId: 'c1',
    stage: 'screen',
    gpuClass: 'cpu',
    workerId: 'w1',
    reason: 'stopped at 30% of the slot',
    evidence: create(StopEvidenceSchema, {
      look: 0.3,
      candidateValue: 4.2,
      baselineMean: 3.1,
      n: 2,
      sigma: 0.05,
      df: 3,
      critical: 5.8,
      threshold: 0.36,
      worseBy: 1.1,
      alpha: 0.05,
      looks: 7,
    }),
  });

  it('is folded once per trial and survives a snapshot round trip', () => {
    const s = new LedgerState(['screen']);
    s.apply(create(EventSchema, { seq: 1n, body: { case: 'trialStopped', value: stop } }));
    s.apply(
      create(EventSchema, {
        seq: 2n,
        body: { case: 'trialStopped', value: { ...stop, reason: 'a later duplicate' } },
      }),
    );
    expect(s.stops.get('t1')?.reason).toBe('stopped at 30% of the slot');
    const back = deserializeState(serializeState(s), ['screen'])!;
    expect(back.stops.get('t1')?.evidence?.worseBy).toBe(1.1);
    expect(back.stops.get('t1')?.evidence?.looks).toBe(7);
    expect(back.stops.size).toBe(1);
  });
});
