/**
 * The ladder against a landscape whose truth is known: a real improvement is
 * promoted through every stage and merged; a noise-only change (SEED) is not;
 * a change that helps at the small depth but hurts at the large one stops at
 * the scale rung; and when two winners race for the head, the second is
 * rebased and revalidated against the new head before it merges.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { transferReport } from '../coordinator/transfer-report.js';
import { startLocalSwarm, type LocalSwarm } from './support/local-swarm.js';
import { submitConstant, until } from './support/candidates.js';

describe('ladder on a known landscape', () => {
  let swarm: LocalSwarm;
  const logs: string[] = [];
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    swarm = await startLocalSwarm({
      example: 'landscape',
      workers: 3,
      logs,
      edit: (c) => {
        c.target.env.ARSWARM_TIME_SCALE = '0.0005';
        c.swarm.merge_policy = 'auto';
        c.swarm.prefix = 'laddertest';
        c.proposers = [];
      },
    });
    const c = swarm.coordinator;
    await until(() => c.workers.live().length === 3, 30_000, 'workers');
    ids.lr = await submitConstant(c, 'LEARNING_RATE', '0.004', 'raise learning rate to 0.004');
    ids.seed = await submitConstant(c, 'SEED', '137', 'change the seed');
    ids.heads = await submitConstant(c, 'N_HEADS', '6', 'six heads');
    ids.warmup = await submitConstant(c, 'WARMUP_STEPS', '2', 'two warm-up steps');
    const settled = () =>
      Object.values(ids).every((id) => {
        const s = c.ledger.state.candidates.get(id)!.state;
        return s !== CandidateState.ACTIVE && s !== CandidateState.REVIEW;
      });
    await until(settled, 200_000, 'all candidates to settle');
  }, 240_000);

  afterAll(async () => {
    if (process.env.ARSWARM_TEST_DEBUG)
      for (const [k, id] of Object.entries(ids))
        for (const v of swarm.coordinator.ledger.state.candidates.get(id)!.verdicts)
          console.log(k, v.stage, VerdictKind[v.kind], v.reason);
    await swarm?.stop();
  });

  const view = (k: string) => swarm.coordinator.ledger.state.candidates.get(ids[k]!)!;
  const promotedAt = (k: string) =>
    view(k)
      .verdicts.filter((v) => v.kind === VerdictKind.PROMOTE)
      .map((v) => v.stage);

  it('merges a real improvement after every stage', () => {
    expect(view('lr').state).toBe(CandidateState.MERGED);
    expect(new Set(promotedAt('lr'))).toEqual(new Set(['screen', 'confirm', 'scale']));
  });

  it('never promotes a noise-only change past the confirm gate', () => {
    // Screen is cheap and lenient (z = 1): noise may pass it. Confirm may not.
    expect(view('seed').state).toBe(CandidateState.REJECTED);
    expect(promotedAt('seed')).not.toContain('confirm');
  });

  it('stops a change that helps at small depth but hurts at large depth at the scale rung', () => {
    const v = view('heads');
    expect(v.state).toBe(CandidateState.REJECTED);
    expect(promotedAt('heads')).toEqual(['screen', 'confirm']);
    const last = v.verdicts.at(-1)!;
    expect(last.stage).toBe('scale');
    expect(last.delta).toBeLessThan(0);
  });

  it('rebases a racing winner onto the new head and revalidates it before merging', () => {
    const state = swarm.coordinator.ledger.state;
    expect(state.merges.length).toBeGreaterThanOrEqual(2);
    const second = state.merges[1]!;
    const v = state.candidates.get(second.candidateId)!;
    // Its top-stage evidence was gathered against the head it merged onto.
    const top = v.verdicts.filter((x) => x.kind === VerdictKind.PROMOTE && x.stage === 'scale').at(-1)!;
    const trial = state.trials.get(top.trialIds[0]!)!;
    expect(trial.trial.parentCommit).toBe(second.previousHead);
    expect(v.candidate.parentCommit).not.toBe(second.previousHead);
  });

  it('tracks how promotions transfer between rungs', () => {
    const r = transferReport(swarm.coordinator.ledger.state);
    const top = r.rungs.find((x) => x.from === 'confirm' && x.to === 'scale')!;
    // lr and warmup held up at depth; the six-heads change did not.
    expect(top.promoted).toBeGreaterThanOrEqual(3);
    expect(top.heldUp).toBe(top.promoted - 1);
    expect(r.deltas[ids.heads!]!.scale).toBeLessThan(0);
  });
});
