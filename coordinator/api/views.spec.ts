import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { CandidateState, VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { EventSchema } from '../../gen/arswarm/v1/event_pb.js';
import { TrialKind, TrialStatus, WorkerHeartbeatSchema, WorkerState } from '../../gen/arswarm/v1/trial_pb.js';
import { parseConfig } from '../../common/config-load.js';
import { LedgerState } from '../ledger/state.js';
import { metricsText } from './metrics.js';
import { progress } from './progress.js';
import { entryLine, historyEntries } from '../journal.js';
import { evidence, matchesProposer, resultsPerMinute, standingVerdicts, status } from './views.js';

type Body = MessageInitShape<typeof EventSchema>['body'];

/** A small history: a baseline of 2 trials, c1 promoted and merged, c2 rejected, one crash. */
function history(): LedgerState {
  const s = new LedgerState(['screen', 'scale']);
  let seq = 0n;
  const apply = (body: Body) => s.apply(create(EventSchema, { seq: ++seq, body }));
  const t0 = 1_000_000;
  const trial = (
    id: string,
    stage: string,
    candidateId: string,
    seed: number,
    metric: number,
    at: number,
    status = TrialStatus.OK,
  ) => {
    const t = {
      id,
      kind: candidateId ? TrialKind.CANDIDATE : TrialKind.BASELINE,
      candidateId,
      stage: { name: stage },
      parentCommit: 'h0',
      seed,
    };
    apply({ case: 'trialQueued', value: { trial: t } });
    apply({
      case: 'trialFinished',
      value: {
        result: {
          trialId: id,
          status,
          metric,
          runMs: 2000n,
          gpuClass: 'cpu',
          finishedAtMs: BigInt(t0 + at),
          trial: t,
        },
      },
    });
  };
  apply({ case: 'swarmStarted', value: { branch: 'b', head: 'h0' } });
  for (const id of ['c1', 'c2'])
    apply({
      case: 'candidateProposed',
      value: { candidate: { id, parentCommit: 'h0', title: id, proposer: 'human:ana' } },
    });
  trial('b1', 'screen', '', 1, 1.0, 1000);
  trial('b2', 'screen', '', 2, 1.02, 2000);
  trial('c1s', 'screen', 'c1', 1, 0.95, 3000);
  trial('c2s', 'screen', 'c2', 1, 1.05, 4000);
  trial('c1x', 'screen', 'c1', 2, NaN, 5000, TrialStatus.CRASH);
  trial('c1k', 'scale', 'c1', 3, 0.9, 6000);
  const verdict = (
    candidateId: string,
    stage: string,
    kind: VerdictKind,
    delta: number,
    trialIds: string[],
    candidateMean: number,
  ) =>
    apply({
      case: 'verdict',
      value: {
        candidateId,
        stage,
        kind,
        delta,
        sigma: 0.01,
        n: trialIds.length,
        gpuClass: 'cpu',
        trialIds,
        candidateMean,
      },
    });
  verdict('c1', 'screen', VerdictKind.INCONCLUSIVE, 0.02, ['c1s'], 0.95);
  verdict('c1', 'screen', VerdictKind.PROMOTE, 0.06, ['c1s'], 0.95);
  verdict('c2', 'screen', VerdictKind.REJECT, -0.04, ['c2s'], 1.05);
  verdict('c1', 'scale', VerdictKind.PROMOTE, 0.1, ['c1k'], 0.9);
  apply({
    case: 'merged',
    value: { candidateId: 'c1', commit: 'h1', previousHead: 'h0', metricBefore: 1.0, metricAfter: 0.9 },
  });
  return s;
}

describe('control views', () => {
  it('keeps the decided verdict per stage over a later inconclusive one', () => {
    const s = history();
    const v = s.candidates.get('c1')!;
    expect(standingVerdicts(v.verdicts, s.stageNames).map((x) => [x.stage, x.kind])).toEqual([
      ['screen', VerdictKind.PROMOTE],
      ['scale', VerdictKind.PROMOTE],
    ]);
    const ev = evidence(s, v);
    expect(ev[0]).toMatchObject({
      stage: 'screen',
      delta: 0.06,
      n: 1,
      seeds: [1],
      gpuClass: 'cpu',
      gpuSeconds: 2,
    });
  });

  it('matches `human` to every person', () => {
    expect(matchesProposer('human:ana', 'human')).toBe(true);
    expect(matchesProposer('human:ana', 'human:ana')).toBe(true);
    expect(matchesProposer('humanoid', 'human')).toBe(false);
    expect(matchesProposer('knobs', '')).toBe(true);
  });

  it('measures throughput over the window, not the whole history', () => {
    const s = history();
    // 6 results within 5 s, seen 5 s after the first: 6 per 10 s floor = 36 per minute.
    expect(resultsPerMinute(s, 1_000_000 + 6000)).toBeCloseTo(36);
    expect(resultsPerMinute(s, 1_000_000 + 6000 + 3_600_000)).toBe(0);
  });

  it('charts every finished trial and a step line of kept changes from the first baseline', () => {
    const p = progress(history(), true, 'val_bpb');
    const screen = p.stages![0]!;
    expect(screen.points!.map((x) => x.trialId)).toEqual(['b1', 'b2', 'c1s', 'c2s', 'c1x']);
    expect(screen.points!.map((x) => x.candidateState)).toEqual([
      CandidateState.UNSPECIFIED,
      CandidateState.UNSPECIFIED,
      CandidateState.MERGED,
      CandidateState.REJECTED,
      CandidateState.MERGED,
    ]);
    expect(Number.isNaN(screen.points![4]!.metric)).toBe(true);
    expect(screen.best).toEqual([
      { x: 0, metric: 1.01, candidateId: '', title: 'baseline' },
      { x: 2, metric: 0.95, candidateId: 'c1', title: 'c1' },
    ]);
    // No baseline at scale yet: the step line starts with the kept change.
    expect(p.stages![1]!.best).toEqual([{ x: 0, metric: 0.9, candidateId: 'c1', title: 'c1' }]);
  });

  it('writes Prometheus text with one sample per series', () => {
    const config = parseConfig({
      target: { repo: '.', editable: ['train.py'], command: 'true' },
      stages: [
        { name: 'screen', budget_seconds: 1 },
        { name: 'scale', budget_seconds: 1 },
      ],
    });
    const w = create(WorkerHeartbeatSchema, {
      workerId: 'w"1',
      gpuClass: 'cpu',
      state: WorkerState.IDLE,
      idleSeconds: 12.5,
    });
    const text = metricsText(config, history(), [w], 1_000_000 + 6000);
    expect(text).toContain('arswarm_trials_total{stage="screen",status="ok"} 4\n');
    expect(text).toContain('arswarm_trials_total{stage="screen",status="crash"} 1\n');
    expect(text).toContain('arswarm_best_metric{stage="screen"} 0.95\n');
    expect(text).toContain('arswarm_queue_depth{stage="scale"} 0\n');
    expect(text).toContain('arswarm_worker_idle_seconds{worker="w\\"1",gpu_class="cpu"} 12.5\n');
    expect(text).toContain('arswarm_candidates{state="merged"} 1\n');
    expect(text).toContain('arswarm_head_metric 0.9\n');
    const names = text
      .split('\n')
      .filter((l) => l.startsWith('# TYPE'))
      .map((l) => l.split(' ')[2]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('shows a mid-slot stop: counts and GPU time saved per stage, the evidence with its look, the journal line', () => {
    const config = parseConfig({
      target: { repo: '.', editable: ['train.py'], command: 'true' },
      stages: [
        { name: 'screen', budget_seconds: 100, early_stop: {} },
        { name: 'scale', budget_seconds: 1 },
      ],
    });
    const s = history();
    let seq = 1000n;
    const apply = (body: Body) => s.apply(create(EventSchema, { seq: ++seq, body }));
    apply({ case: 'candidateProposed', value: { candidate: { id: 'c3', parentCommit: 'h1', title: 'c3' } } });
    apply({
      case: 'trialQueued',
      value: {
        trial: {
          id: 'c3s',
          kind: TrialKind.CANDIDATE,
          candidateId: 'c3',
          stage: { name: 'screen' },
          parentCommit: 'h1',
        },
      },
    });
    const reason = 'stopped at 40% of the slot: 3.9 vs baseline 3.5';
    apply({
      case: 'trialStopped',
      value: {
        trialId: 'c3s',
        candidateId: 'c3',
        stage: 'screen',
        gpuClass: 'cpu',
        workerId: 'w1',
        reason,
        evidence: { look: 0.4, worseBy: 0.4, threshold: 0.1, n: 3 },
      },
    });
    apply({
      case: 'verdict',
      value: {
        candidateId: 'c3',
        stage: 'screen',
        kind: VerdictKind.REJECT,
        reason,
        trialIds: ['c3s'],
        gpuClass: 'cpu',
      },
    });
    const st = status({ config, state: s, workers: [], pools: [] });
    // No result yet: the slot share the look left unrun, 0.6 × 100 s.
    expect(st.stages![0]).toMatchObject({ name: 'screen', stopped: 1, stopSavedGpuSeconds: 60 });
    expect(st.stages![1]).toMatchObject({ name: 'scale', stopped: 0, stopSavedGpuSeconds: 0 });
    const ev = evidence(s, s.candidates.get('c3')!);
    expect(ev[0]!.stop?.reason).toBe(reason);
    expect(ev[0]!.stop?.evidence?.look).toBe(0.4);
    // Other verdicts carry no stop.
    expect(evidence(s, s.candidates.get('c2')!)[0]!.stop).toBeUndefined();
    const text = metricsText(config, s, [], 1_000_000);
    expect(text).toContain('arswarm_trials_stopped_total{stage="screen"} 1\n');
    expect(text).toContain('arswarm_stop_saved_gpu_seconds_total{stage="screen"} 60\n');
    expect(text).toContain('arswarm_trials_stopped_total{stage="scale"} 0\n');
    const e = historyEntries(s).find((x) => x.id === 'c3')!;
    expect(e).toMatchObject({ status: 'rejected', stopped: true, delta: undefined, nearMiss: false });
    expect(entryLine(e, s)).toContain(`screen: ${reason}`);
  });
});
