import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { EventSchema, type Event } from '../gen/arswarm/v1/event_pb.js';
import { TrialKind, TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import type { EventBody } from './ledger/ledger.js';
import { LedgerState } from './ledger/state.js';
import { NoisePool } from './noise-pool.js';
import { sumsOf } from './stats.js';

const ev = (body: EventBody): Event => create(EventSchema, { body });
const CLASS = 'cpu';

/** A queued and finished OK trial. */
function run(
  id: string,
  parent: string,
  seed: number,
  replicate: number,
  metric: number,
  candidateId = '',
): Event[] {
  const trial = {
    id,
    kind: candidateId ? TrialKind.CANDIDATE : TrialKind.BASELINE,
    candidateId,
    parentCommit: parent,
    stage: { name: 'confirm' },
    seed,
    replicate,
    gpuClass: CLASS,
  };
  return [
    ev({ case: 'trialQueued', value: { trial } }),
    ev({
      case: 'trialFinished',
      value: { result: { trialId: id, status: TrialStatus.OK, metric, gpuClass: CLASS } },
    }),
  ];
}

function state(): LedgerState {
  const s = new LedgerState(['screen', 'confirm']);
  const events: Event[] = [
    ev({ case: 'swarmStarted', value: { branch: 'b', head: 'h1' } }),
    ...run('b1.1', 'h1', 1001, 0, 1.0),
    ...run('b1.2', 'h1', 1002, 1, 1.004),
    ...run('b1.3', 'h1', 1003, 2, 0.998),
    ...run('b1.4', 'h1', 1004, 3, 1.001),
    ev({
      case: 'candidateProposed',
      value: { candidate: { id: 'c1', title: 't', parentCommit: 'h1', diff: 'd' } },
    }),
    ...run('c1.1', 'h1', 1001, 0, 0.99, 'c1'),
    ...run('c1.2', 'h1', 1002, 1, 0.996, 'c1'),
    ...run('c1.3', 'h1', 1003, 2, 0.991, 'c1'),
    // An extra replicate, asked for after the first looks: not pooled.
    ...run('c1.4', 'h1', 1004, 3, 0.9, 'c1'),
    ev({
      case: 'verdict',
      value: {
        candidateId: 'c1',
        stage: 'confirm',
        kind: VerdictKind.REJECT,
        n: 4,
        gpuClass: CLASS,
        trialIds: ['c1.1', 'c1.2', 'c1.3', 'c1.4'],
      },
    }),
    ev({ case: 'merged', value: { candidateId: 'x', commit: 'h2', previousHead: 'h1' } }),
    ...run('b2.1', 'h2', 1001, 0, 0.995),
    ...run('b2.2', 'h2', 1002, 1, 1.0),
    ...run('b2.3', 'h2', 1003, 2, 0.996),
    ev({ case: 'merged', value: { candidateId: 'y', commit: 'h3', previousHead: 'h2' } }),
  ];
  for (const e of events) s.apply(e);
  return s;
}

describe('NoisePool', () => {
  const s = state();
  const pool = new NoisePool(
    () => s,
    () => 3,
  );
  const candidate = sumsOf([0.99 - 1.0, 0.996 - 1.004, 0.991 - 0.998]);
  const heads = sumsOf([0.995 - 1.0, 1.0 - 1.004, 0.996 - 0.998]);

  it("pools decided candidates' first replicates and successive heads' same-seed differences", () => {
    const p = pool.prior('confirm', CLASS, 'h3');
    expect(p.paired.df).toBe(candidate.df + heads.df);
    expect(p.paired.ss).toBeCloseTo(candidate.ss + heads.ss, 12);
  });

  it('leaves out head pairs that involve the parent (its runs are in the judgement itself)', () => {
    const p = pool.prior('confirm', CLASS, 'h2');
    expect(p.paired.df).toBe(candidate.df);
    expect(p.paired.ss).toBeCloseTo(candidate.ss, 12);
  });

  it('keeps stages and classes apart', () => {
    expect(pool.prior('screen', CLASS, 'h3').paired.df).toBe(0);
    expect(pool.prior('confirm', 'H100', 'h3').paired.df).toBe(0);
  });
});
