import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { EventSchema, type Event } from '../gen/arswarm/v1/event_pb.js';
import type { EventBody } from './ledger/ledger.js';
import { LedgerState } from './ledger/state.js';
import { historyEntries, journalMarkdown } from './journal.js';

const ev = (body: EventBody): Event => create(EventSchema, { body });
const verdict = (candidateId: string, stage: string, kind: VerdictKind, delta: number, n = 1, reason = '') =>
  ev({ case: 'verdict', value: { candidateId, stage, kind, delta, sigma: 0.001, n, reason } });
const proposed = (id: string, title: string) =>
  ev({
    case: 'candidateProposed',
    value: {
      candidate: {
        id,
        title,
        hypothesis: 'h',
        proposer: 'claude',
        parentCommit: 'aaaaaaa1',
        diff: `d ${id}`,
      },
    },
  });

function state(): LedgerState {
  const s = new LedgerState(['screen', 'confirm', 'scale']);
  const events: Event[] = [
    ev({ case: 'swarmStarted', value: { branch: 'arswarm/main', head: 'aaaaaaa1' } }),
    proposed('c00001', 'raise LR'),
    verdict('c00001', 'screen', VerdictKind.PROMOTE, 0.012),
    verdict('c00001', 'confirm', VerdictKind.PROMOTE, 0.01, 3),
    verdict('c00001', 'scale', VerdictKind.PROMOTE, 0.008, 2),
    ev({
      case: 'merged',
      value: {
        candidateId: 'c00001',
        commit: 'bbbbbbb2',
        previousHead: 'aaaaaaa1',
        metricBefore: 1.0,
        metricAfter: 0.99,
      },
    }),
    proposed('c00002', 'lower dropout'),
    verdict('c00002', 'screen', VerdictKind.REJECT, -0.004),
    proposed('c00003', 'add warmup'),
    verdict('c00003', 'screen', VerdictKind.PROMOTE, 0.003),
    verdict('c00003', 'confirm', VerdictKind.REJECT, 0.0008, 3, 'Δ below 2σ'),
    proposed('c00004', 'huge lr'),
    verdict('c00004', 'screen', VerdictKind.CRASHED, 0, 0, 'nan: loss diverged'),
    proposed('c00005', 'wider mlp'),
    ev({
      case: 'candidateRefused',
      value: {
        candidate: { id: 'c00006', title: 'raise LR again', proposer: 'knobs' },
        reason: 'same effect as c00001',
        code: 'near_duplicate',
      },
    }),
  ];
  for (const e of events) s.apply(e);
  return s;
}

describe('journal', () => {
  it('classifies every idea, with its last measured Δ and near misses', () => {
    const h = Object.fromEntries(historyEntries(state()).map((e) => [e.id, e]));
    expect(h.c00001).toMatchObject({
      status: 'kept',
      stage: 'scale',
      delta: 0.008,
      passed: ['screen', 'confirm', 'scale'],
    });
    expect(h.c00002).toMatchObject({ status: 'rejected', nearMiss: false, delta: -0.004 });
    expect(h.c00003).toMatchObject({
      status: 'rejected',
      nearMiss: true,
      stage: 'confirm',
      delta: 0.0008,
      n: 3,
    });
    expect(h.c00004).toMatchObject({ status: 'crashed', reason: 'nan: loss diverged', delta: undefined });
    expect(h.c00005).toMatchObject({ status: 'in_flight', stage: 'screen' });
    expect(h.c00006).toMatchObject({ status: 'refused', reason: 'same effect as c00001' });
  });

  it('writes the sections people and models read', () => {
    const md = journalMarkdown(state(), { metric: 'val_bpb' });
    expect(md).toContain('1 kept, 1 in flight, 2 rejected (1 near misses), 1 crashed, 1 refused');
    expect(md).toContain(
      '## Best so far\n- start aaaaaaa: val_bpb 1.000000\n- c00001 "raise LR" → bbbbbbb: val_bpb 0.990000',
    );
    expect(md).toMatch(
      /## Kept \(merged\)\n- c00001 "raise LR" \[claude\] — screen Δ \+0\.0120 ± 0\.0010 passed; confirm Δ \+0\.0100 ± 0\.0010 \(n=3\) passed/,
    );
    expect(md).toMatch(/## Near misses[^\n]*\n- c00003 "add warmup" .*confirm Δ \+0\.0008 ± 0\.0010 \(n=3\)/);
    expect(md).toMatch(/## Rejected\n- c00002 "lower dropout" \[claude\] — screen Δ -0\.0040/);
    expect(md).toMatch(/## Crashed\n- c00004 "huge lr" \[claude\] — screen: crashed \(nan: loss diverged\)/);
    expect(md).toMatch(
      /## In flight \(do not duplicate\)\n- c00005 "wider mlp" \[claude\] — at screen, no result yet/,
    );
    expect(md).toMatch(
      /## Refused before any trial\n- c00006 "raise LR again" \[knobs\] — refused: same effect as c00001/,
    );
  });

  it('keeps each section to its limit, newest first', () => {
    const s = new LedgerState(['screen']);
    s.apply(ev({ case: 'swarmStarted', value: { branch: 'b', head: 'h' } }));
    for (let i = 1; i <= 30; i++) {
      s.apply(proposed(`c${i}`, `idea ${i}`));
      s.apply(verdict(`c${i}`, 'screen', VerdictKind.REJECT, -0.01));
    }
    const md = journalMarkdown(s, { limit: 5 });
    expect(md).toContain('- c30 "idea 30"');
    expect(md).not.toContain('- c25 "idea 25"');
    expect(md).toContain('- … and 25 older');
  });
});
