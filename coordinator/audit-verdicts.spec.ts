import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { afterAll, describe, expect, it } from 'vitest';
import { VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { EventSchema, type Event } from '../gen/arswarm/v1/event_pb.js';
import { TrialKind, TrialSchema, TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { loadConfig } from '../common/config-load.js';
import { audit } from './audit.js';
import { auditVerdicts } from './audit-verdicts.js';
import { configLevels } from './gate.js';
import { judge } from './stage-verdict.js';
import { TargetRepo } from './repo.js';

type Body = MessageInitShape<typeof EventSchema>['body'];
const config = loadConfig(join(import.meta.dirname, '..', 'examples', 'landscape', 'arswarm.yaml')).config;
const STAGES = config.stages.map((s) => s.name);

/** One candidate judged at the screen against three baseline runs of h0, as the scheduler records it. */
function judged(metrics: { base: number[]; cand: number }, parent = 'h0') {
  const events: Event[] = [];
  const push = (body: Body) => events.push(create(EventSchema, { seq: BigInt(events.length + 1), body }));
  push({ case: 'candidateProposed', value: { candidate: { id: 'c1', parentCommit: 'h0', diff: 'd' } } });
  const stage = { name: 'screen', index: 0 };
  metrics.base.forEach((m, r) => {
    const trial = create(TrialSchema, {
      id: `b${r}`,
      kind: TrialKind.BASELINE,
      parentCommit: 'h0',
      seed: r + 1,
      replicate: r,
      stage,
    });
    push({ case: 'trialQueued', value: { trial } });
    push({
      case: 'trialFinished',
      value: { result: { trialId: `b${r}`, status: TrialStatus.OK, metric: m, gpuClass: 'cpu' } },
    });
  });
  const trial = create(TrialSchema, {
    id: 't1',
    kind: TrialKind.CANDIDATE,
    candidateId: 'c1',
    parentCommit: parent,
    diff: 'd',
    seed: 1,
    stage,
  });
  push({ case: 'trialQueued', value: { trial } });
  push({
    case: 'trialFinished',
    value: { result: { trialId: 't1', status: TrialStatus.OK, metric: metrics.cand, gpuClass: 'cpu' } },
  });
  const s = config.stages[0]!;
  const rule = {
    name: s.name,
    replicates: s.replicates,
    maxReplicates: s.max_replicates ?? 3,
    z: s.promote.z,
    minDelta: s.promote.min_delta,
    alpha: configLevels(config).look[0],
  };
  const seeded = (id: string, seed: number, metric: number) => ({ seed, metric, trialId: id });
  const j = judge(
    rule,
    [seeded('t1', 1, metrics.cand)],
    metrics.base.map((m, r) => seeded(`b${r}`, r + 1, m)),
    config.swarm.baseline_replicates,
    true,
  );
  if (j.kind === 'wait') throw new Error('not judged');
  const kind = { promote: VerdictKind.PROMOTE, reject: VerdictKind.REJECT, more: VerdictKind.INCONCLUSIVE }[
    j.kind
  ];
  const verdict = {
    candidateId: 'c1',
    kind,
    stage: 'screen',
    gpuClass: 'cpu',
    trialIds: ['t1'],
    delta: j.imp.delta,
    sigma: j.imp.sigma,
    n: j.imp.n,
    candidateMean: j.imp.candidateMean,
    baselineMean: j.imp.baselineMean,
    df: j.imp.df,
    alpha: j.imp.alpha,
    threshold: j.imp.threshold,
  };
  return { events, verdict, push };
}

describe('auditVerdicts', () => {
  it('finds nothing in a verdict the results give, and redoes it', () => {
    const { events, verdict, push } = judged({ base: [0.95, 0.952, 0.948], cand: 0.94 });
    push({ case: 'verdict', value: verdict });
    const a = auditVerdicts(events, config);
    expect(a.problems).toEqual([]);
    expect(a.checked).toBe(1);
  });

  it('names a verdict whose numbers or kind the recorded results do not give', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ delta: 0.5 }, /delta 0.5 but the results give/],
      [{ baselineMean: 0.9 }, /baseline mean 0.9 but/],
      [{ kind: VerdictKind.REJECT }, /REJECT but .* means PROMOTE/],
      [{ threshold: 0 }, /bar 0 is not max\(min_delta, t·σ\)/],
      [{ alpha: 0.4 }, /level 0.4 is not the stage's/],
      [{ trialIds: ['b0'] }, /trial ids b0 are not the results recorded/],
    ];
    for (const [tamper, pattern] of cases) {
      const { events, verdict, push } = judged({ base: [0.95, 0.952, 0.948], cand: 0.94 });
      push({ case: 'verdict', value: { ...verdict, ...tamper } });
      const a = auditVerdicts(events, config);
      expect(a.problems.join('\n'), JSON.stringify(tamper)).toMatch(pattern);
      expect(a.wrongCandidates.has('c1')).toBe(true);
    }
  });
});

describe('audit: top-stage evidence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-audit-'));
  execFileSync('git', ['init', '-q', '--bare', dir]);
  const repo = TargetRepo.attach(dir, 'arswarm/main');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A candidate promoted at every stage (top-stage runs against `evidenceParent`), merged onto h1. */
  const run = (evidenceParent: string) => {
    const { events, push } = judged({ base: [0.95, 0.952, 0.948], cand: 0.94 });
    const top = STAGES.at(-1)!;
    const trial = create(TrialSchema, {
      id: 'top1',
      kind: TrialKind.CANDIDATE,
      candidateId: 'c1',
      parentCommit: evidenceParent,
      stage: { name: top },
    });
    push({ case: 'trialQueued', value: { trial } });
    push({
      case: 'trialFinished',
      value: { result: { trialId: 'top1', status: TrialStatus.OK, metric: 0.9, gpuClass: 'cpu' } },
    });
    for (const stage of STAGES)
      push({
        case: 'verdict',
        value: {
          candidateId: 'c1',
          kind: VerdictKind.PROMOTE,
          stage,
          trialIds: stage === top ? ['top1'] : [],
        },
      });
    push({ case: 'merged', value: { candidateId: 'c1', commit: 'h2', previousHead: 'h1' } });
    return audit(events, repo, { stageNames: STAGES, mergePolicy: 'auto' });
  };

  it('accepts evidence gathered against the head merged onto, and flags evidence against another', async () => {
    expect((await run('h1')).problems).toEqual([]);
    const stale = await run('h0');
    expect(stale.wrongMerges).toBe(1);
    expect(stale.problems.join('\n')).toMatch(
      /merge of c1 onto h1: top-stage evidence ran against another head \(top1\)/,
    );
  });
});
