import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../common/config-load.js';
import type { CurvePoint } from '../../common/curve.js';
import { seededRandom } from '../../common/random.js';
import { VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { EventSchema } from '../../gen/arswarm/v1/event_pb.js';
import { TrialKind, TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { LedgerState } from '../ledger/state.js';
import { judgedTrial, judgeTrial, looksPassed, stopFact, worthStopping } from './decide.js';
import { baselineCurves, earlierHeads, priorOf } from './reference.js';
import { stopSavings, totalSavings } from './savings.js';

const config = parseConfig({
  target: { repo: '.', command: 'python3 train.py', editable: ['train.py'] },
  stages: [
    {
      name: 'screen',
      budget_seconds: 100,
      early_stop: { after: 0.3, every: 0.1, window: 0.1, alpha: 0.01, min_df: 4 },
    },
    { name: 'confirm', budget_seconds: 300 },
  ],
});

type Body = MessageInitShape<typeof EventSchema>['body'];

/** A ledger state built from facts, as the coordinator's is. */
class Facts {
  readonly state = new LedgerState(['screen', 'confirm']);
  private seq = 0n;
  push(body: Body): void {
    this.state.apply(create(EventSchema, { seq: ++this.seq, body }));
  }
  head(h: string): void {
    if (!this.state.head) this.push({ case: 'swarmStarted', value: { branch: 'b', head: h } });
    else this.push({ case: 'merged', value: { candidateId: `m-${h}`, commit: h } });
  }
  candidate(id: string, parent: string): void {
    this.push({ case: 'candidateProposed', value: { candidate: { id, parentCommit: parent, diff: 'd' } } });
  }
  trial(a: {
    id: string;
    kind?: TrialKind;
    candidateId?: string;
    parent: string;
    stage?: string;
    gpuClass?: string;
    seed?: number;
  }): void {
    const stage = a.stage ?? 'screen';
    this.push({
      case: 'trialQueued',
      value: {
        trial: {
          id: a.id,
          kind: a.kind ?? TrialKind.CANDIDATE,
          candidateId: a.candidateId ?? '',
          parentCommit: a.parent,
          seed: a.seed ?? 1,
          gpuClass: a.gpuClass ?? 'any',
          stage: {
            name: stage,
            index: stage === 'screen' ? 0 : 1,
            budgetSeconds: stage === 'screen' ? 100 : 300,
          },
        },
      },
    });
  }
  started(id: string, workerId: string, gpuClass: string): void {
    this.push({ case: 'trialStarted', value: { trialId: id, workerId, gpuClass } });
  }
  finished(id: string, curve: CurvePoint[], status = TrialStatus.OK, runMs = 110_000): void {
    this.push({
      case: 'trialFinished',
      value: {
        result: {
          trialId: id,
          status,
          metric: 1,
          gpuClass: 'cpu',
          runMs: BigInt(runMs),
          curve: curve.map((p) => ({ fraction: p.fraction, step: BigInt(p.step), value: p.value })),
        },
      },
    });
  }
}

/** A falling loss curve, 50 points over the slot, offset by `shift`, with noise. */
function curve(rand: () => number, shift: number, noise: number, upTo = 1): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (let i = 1; i <= 50; i++) {
    const f = i / 50;
    if (f > upTo + 1e-9) break;
    out.push({ fraction: f, step: i, value: 4 - 1.5 * f + shift + noise * (rand() - 0.5) });
  }
  return out;
}

/** A ledger with `heads` heads, each with `n` OK baselines at screen on cpu, and candidate c1 on the last. */
function swarm(seed: number, heads = 2, n = 3) {
  const rand = seededRandom(seed);
  const f = new Facts();
  for (let h = 0; h < heads; h++) {
    const head = `h${h}`;
    f.head(head);
    for (let r = 0; r < n; r++) {
      const id = `base.${head}.r${r}`;
      f.trial({ id, kind: TrialKind.BASELINE, parent: head, gpuClass: 'cpu', seed: r + 1 });
      f.finished(id, curve(rand, 0, 0.02));
    }
  }
  const parent = `h${heads - 1}`;
  f.candidate('c1', parent);
  f.trial({ id: 'c1.t', candidateId: 'c1', parent });
  f.started('c1.t', 'w1', 'cpu');
  return { f, rand, parent };
}

describe('which trials the stopper judges', () => {
  const classOf = (w: string) => (w === 'w2' ? 'gpu' : undefined);

  it('judges an active candidate trial of an early_stop stage, on the class that runs it', () => {
    const { f } = swarm(1);
    const j = judgedTrial(f.state, config, 'c1.t', 'w1', classOf);
    expect(typeof j).toBe('object');
    if (typeof j === 'string') return;
    expect(j.gpuClass).toBe('cpu');
    expect(j.stage.name).toBe('screen');
    // Another worker's progress (a redelivery): its own class, not the old TrialStarted's.
    const k = judgedTrial(f.state, config, 'c1.t', 'w2', classOf);
    expect(typeof k === 'object' && k.gpuClass).toBe('gpu');
    expect(judgedTrial(f.state, config, 'c1.t', 'w3', classOf)).toMatch(/class of worker w3 not known/);
  });

  it('leaves out baselines, reruns, unknown or finished trials, stages without early_stop and inactive candidates', () => {
    const { f, parent, rand } = swarm(2);
    expect(judgedTrial(f.state, config, 'base.h1.r0', 'w1', () => 'cpu')).toBe('finished');
    f.trial({ id: 'base.h1.r9', kind: TrialKind.BASELINE, parent, gpuClass: 'cpu' });
    expect(judgedTrial(f.state, config, 'base.h1.r9', 'w1', () => 'cpu')).toBe('not a candidate trial');
    f.trial({ id: 'c1.t.rerun1', kind: TrialKind.RERUN, candidateId: 'c1', parent });
    expect(judgedTrial(f.state, config, 'c1.t.rerun1', 'w1', () => 'cpu')).toBe('not a trial of the ladder');
    expect(judgedTrial(f.state, config, 'nope', 'w1', () => 'cpu')).toBe('not a trial of the ladder');
    f.trial({ id: 'c1.confirm', candidateId: 'c1', parent, stage: 'confirm' });
    expect(judgedTrial(f.state, config, 'c1.confirm', 'w1', () => 'cpu')).toBe(
      'stage confirm has no early_stop',
    );
    // Promoted past screen (a late screen replicate still running): not judged.
    f.push({
      case: 'verdict',
      value: { candidateId: 'c1', stage: 'screen', kind: VerdictKind.PROMOTE, reason: 'r' },
    });
    expect(judgedTrial(f.state, config, 'c1.t', 'w1', () => 'cpu')).toBe(
      'its candidate has moved on from this stage or parent',
    );
    f.push({
      case: 'verdict',
      value: { candidateId: 'c1', stage: 'confirm', kind: VerdictKind.REJECT, reason: 'r' },
    });
    expect(judgedTrial(f.state, config, 'c1.t', 'w1', () => 'cpu')).toBe('its candidate is no longer active');
    f.finished('c1.t', curve(rand, 0, 0.02));
    expect(judgedTrial(f.state, config, 'c1.t', 'w1', () => 'cpu')).toBe('finished');
  });
});

describe('the reference curves', () => {
  it('are the OK baselines with curves of the same parent, stage and class; the prior pools earlier heads only', () => {
    const { f, rand } = swarm(3, 3, 3);
    f.trial({ id: 'base.h2.crash', kind: TrialKind.BASELINE, parent: 'h2', gpuClass: 'cpu' });
    f.finished('base.h2.crash', curve(rand, 5, 0), TrialStatus.CRASH);
    f.trial({ id: 'base.h2.nocurve', kind: TrialKind.BASELINE, parent: 'h2', gpuClass: 'cpu' });
    f.finished('base.h2.nocurve', []);
    f.trial({ id: 'base.h2.gpu', kind: TrialKind.BASELINE, parent: 'h2', gpuClass: 'gpu' });
    f.finished('base.h2.gpu', curve(rand, 5, 0));
    expect(baselineCurves(f.state, 'h2', 'screen', 'cpu')).toHaveLength(3);
    expect(earlierHeads(f.state, 'h2')).toEqual(['h0', 'h1']);
    expect(earlierHeads(f.state, 'h0')).toEqual([]);
    expect(earlierHeads(f.state, 'elsewhere')).toEqual(['h0', 'h1', 'h2']);
    // Two earlier heads of 3 baselines: 2 × 2 degrees of freedom at every look.
    expect(priorOf(f.state, 'h2', 'screen', 'cpu', 0.1)(0.5).df).toBe(4);
    expect(priorOf(f.state, 'h0', 'screen', 'cpu', 0.1)(0.5).df).toBe(0);
  });
});

describe('judging a live curve', () => {
  it('stops a clearly worse candidate at the first look it passes, with evidence that clears its bar', () => {
    const { f, rand } = swarm(4);
    const j = judgedTrial(f.state, config, 'c1.t', 'w1', () => undefined);
    if (typeof j === 'string') throw new Error(j);
    const early = curve(rand, 0.5, 0.02, 0.3);
    // At 30% exactly the window of the first look is not complete yet.
    expect(looksPassed(j.rule, early)).toBe(0);
    expect(judgeTrial(f.state, config, j, early).stop).toBe(false);
    const bad = curve(rand, 0.5, 0.02, 0.32);
    expect(looksPassed(j.rule, bad)).toBe(1);
    const verdict = judgeTrial(f.state, config, j, bad);
    expect(verdict.stop).toBe(true);
    if (!verdict.stop) return;
    expect(verdict.baselines).toBe(3);
    const e = verdict.evidence;
    expect(e.look).toBe(0.3);
    expect(e.n).toBe(3);
    // Own baselines (2 df) plus the earlier head's (2 df).
    expect(e.df).toBe(4);
    expect(e.worseBy).toBeGreaterThan(e.threshold);
    expect(e.alpha).toBe(0.01);
    const fact = stopFact(j, 'w1', verdict);
    expect(fact).toMatchObject({
      trialId: 'c1.t',
      candidateId: 'c1',
      stage: 'screen',
      gpuClass: 'cpu',
      workerId: 'w1',
    });
    expect(fact.reason).toMatch(/^stopped at 30% of the slot/);
    // A run at its end (its last points come with its result) is left to finish.
    expect(worthStopping(bad)).toBe(true);
    expect(worthStopping(curve(rand, 0.5, 0.02, 0.96))).toBe(false);
    expect(worthStopping(curve(rand, 0.5, 0.02, 1))).toBe(false);
  });

  it('does not stop without enough baseline spread (min_df) however bad the curve', () => {
    const { f, rand } = swarm(5, 1, 3);
    const j = judgedTrial(f.state, config, 'c1.t', 'w1', () => undefined);
    if (typeof j === 'string') throw new Error(j);
    const r = judgeTrial(f.state, config, j, curve(rand, 2, 0.02, 0.9));
    expect(r.stop).toBe(false);
    expect(r.reason).toMatch(/df 2 < 4/);
  });

  it('stops an honest candidate (same curve as the baselines) in well under alpha of the slots', () => {
    let stops = 0;
    const runs = 300;
    for (let s = 0; s < runs; s++) {
      const { f, rand } = swarm(100 + s);
      const j = judgedTrial(f.state, config, 'c1.t', 'w1', () => undefined);
      if (typeof j === 'string') throw new Error(j);
      if (judgeTrial(f.state, config, j, curve(rand, 0, 0.02)).stop) stops++;
    }
    // alpha 0.01: about 3 of 300 at most by chance; 10 would mean the bound is broken.
    expect(stops).toBeLessThan(10);
  });

  it('compares a maximized intermediate metric the other way round', () => {
    const up = parseConfig({ ...config, target: { ...config.target, progress: { direction: 'maximize' } } });
    const { f, rand } = swarm(6);
    const j = judgedTrial(f.state, up, 'c1.t', 'w1', () => undefined);
    if (typeof j === 'string') throw new Error(j);
    // Higher than the baselines is better when maximizing: not stopped.
    expect(judgeTrial(f.state, up, j, curve(rand, 0.5, 0.02, 0.5)).stop).toBe(false);
    expect(judgeTrial(f.state, up, j, curve(rand, -0.5, 0.02, 0.5)).stop).toBe(true);
  });
});

describe('GPU time saved', () => {
  it('is the baselines run time minus the stopped run once its result is in, else the unrun share of the slot', () => {
    const { f, rand } = swarm(7);
    f.push({
      case: 'trialStopped',
      value: {
        trialId: 'c1.t',
        candidateId: 'c1',
        stage: 'screen',
        gpuClass: 'cpu',
        workerId: 'w1',
        reason: 'r',
        evidence: { look: 0.4 },
      },
    });
    const budget = (s: string) => (s === 'screen' ? 100 : 300);
    expect(stopSavings(f.state, budget).get('screen')).toEqual({ stopped: 1, savedGpuSeconds: 60 });
    // Baselines ran 110 s each; the stopped run 45 s.
    f.finished('c1.t', curve(rand, 0.5, 0.02, 0.45), TrialStatus.STOPPED, 45_000);
    const per = stopSavings(f.state, budget);
    expect(per.get('screen')!.savedGpuSeconds).toBeCloseTo(65, 9);
    expect(totalSavings(per)).toEqual({ stopped: 1, savedGpuSeconds: per.get('screen')!.savedGpuSeconds });
  });
});
