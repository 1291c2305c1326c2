import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { EventSchema } from '../../gen/arswarm/v1/event_pb.js';
import { TrialKind, TrialSchema, TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { Ledger, memoryStore } from './ledger.js';
import { LedgerState } from './state.js';

type Body = MessageInitShape<typeof EventSchema>['body'];

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STAGES = ['screen', 'confirm', 'scale'];
const trial = (id: string, stage: string) =>
  create(TrialSchema, {
    id,
    kind: TrialKind.CANDIDATE,
    candidateId: 'c1',
    stage: { name: stage, index: STAGES.indexOf(stage), env: { DEPTH: '4' } },
    target: { command: 'x', lockedSha256: { 'a.py': 'ff' } },
  });

/** What a walk over every trial says (the status page's old way). */
function walk(s: LedgerState, stage: string) {
  let queued = 0,
    running = 0,
    finished = 0,
    min = NaN,
    max = NaN;
  for (const tv of s.trials.values()) {
    if (tv.trial.stage?.name !== stage) continue;
    if (tv.result) {
      finished++;
      if (tv.result.status === TrialStatus.OK) {
        if (Number.isNaN(min) || tv.result.metric < min) min = tv.result.metric;
        if (Number.isNaN(max) || tv.result.metric > max) max = tv.result.metric;
      }
    } else if (tv.started) running++;
    else queued++;
  }
  return { queued, running, finished, okMin: min, okMax: max };
}

describe('LedgerState', () => {
  it('keeps per-stage counts equal to a walk over every trial, whatever the order of facts', () => {
    const random = mulberry32(7);
    const s = new LedgerState(STAGES);
    let seq = 0n;
    const apply = (body: Body) => s.apply(create(EventSchema, { seq: ++seq, body }));
    const ids: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const r = random();
      const id = ids[Math.floor(random() * ids.length)];
      if (r < 0.3 || !id) {
        const nid = `t${i}`;
        ids.push(nid);
        apply({ case: 'trialQueued', value: { trial: trial(nid, STAGES[i % 3]!) } });
      } else if (r < 0.55)
        apply({ case: 'trialStarted', value: { trialId: id, workerId: `w${Math.floor(random() * 3)}` } });
      else if (r < 0.9) {
        const status = random() < 0.8 ? TrialStatus.OK : TrialStatus.CRASH;
        apply({
          case: 'trialFinished',
          value: { result: { trialId: id, status, metric: random(), gpuClass: 'cpu' } },
        });
      } else if (r < 0.95) {
        // A result whose TrialQueued never reached the ledger: adopted.
        const nid = `adopted${i}`;
        ids.push(nid);
        apply({
          case: 'trialFinished',
          value: {
            result: { trialId: nid, status: TrialStatus.OK, metric: random(), trial: trial(nid, 'confirm') },
          },
        });
      } else apply({ case: 'trialQueued', value: { trial: trial(id, 'screen') } }); // a repeated fact
    }
    for (const stage of STAGES) expect(s.stageCounts.get(stage), stage).toEqual(walk(s, stage));
    // The result keeps one Trial object: the queued one.
    const done = [...s.trials.values()].find((tv) => tv.result)!;
    expect(done.result!.trial).toBe(done.trial);
  });

  it('keeps log tails in the ledger, not in memory, and reads them back by sequence', async () => {
    const ledger = await Ledger.open(memoryStore(), STAGES);
    await ledger.append({ case: 'trialQueued', value: { trial: trial('t1', 'screen') } });
    const tail = 'step 1\n'.repeat(1000) + '---\nval_bpb: 1.0\n';
    await ledger.append({
      case: 'trialFinished',
      value: { result: { trialId: 't1', status: TrialStatus.OK, metric: 1, logTail: tail } },
    });
    expect(ledger.state.trials.get('t1')!.result!.logTail).toBe('');
    const r = await ledger.result('t1');
    expect(r!.logTail).toBe(tail);
    expect(r!.metric).toBe(1);
    expect(r!.trial).toBe(ledger.state.trials.get('t1')!.trial);
    expect(await ledger.result('t2')).toBeUndefined();
    // Rebuilt from the store, the same.
    const again = await Ledger.open(memoryStore(), STAGES);
    expect(await again.result('t1')).toBeUndefined();
  });
});
