/**
 * How the scheduler ends a stage on a mid-slot stop: a recorded TrialStopped
 * rejects the candidate's stage with the stop's reason, naming the stopped
 * trial, with no metric fields (the look is in the intermediate metric's
 * units); a STOPPED result that no TrialStopped stands behind is not
 * evidence, so the replicate is queued again like an infra failure. Real
 * parts: the landscape target repo, the trial factory, an in-memory ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { TrialStatus, type Trial } from '../gen/arswarm/v1/trial_pb.js';
import { dedupeIds } from '../common/subjects.js';
import {
  landscapeCopy,
  pausedLedger,
  proposeEdit,
  schedulerOf,
  type LandscapeCopy,
} from '../test/support/scheduler-fixture.js';

describe('scheduler and mid-slot stops', () => {
  let t: LandscapeCopy;
  beforeAll(async () => {
    t = await landscapeCopy('arswarm-stops-');
  });
  afterAll(() => t.remove());

  it('rejects on a recorded stop and retries a STOPPED result without one', async () => {
    const { config } = t;
    const { ledger, head } = await pausedLedger(t, 'these candidates only');
    await proposeEdit(t, ledger, head, 'c-stopped', 'WARMUP_STEPS = 0', 'WARMUP_STEPS = 50');
    await proposeEdit(t, ledger, head, 'c-rogue', 'WARMUP_STEPS = 0', 'WARMUP_STEPS = 20');
    const queued: Trial[] = [];
    const scheduler = schedulerOf(t, ledger, async (trial) => {
      queued.push(trial);
    });
    await scheduler.tick();
    const first = (id: string) => queued.find((t) => t.candidateId === id)!;
    const stopped = first('c-stopped');
    const rogue = first('c-rogue');
    expect(stopped.target?.progress?.pattern).toBe(config.target.progress.pattern);
    expect(stopped.target?.progress?.lowerIsBetter).toBe(true);

    const reason = 'stopped at 30% of the slot: 4.1 vs baseline 3.6 (n 3)';
    await ledger.append(
      {
        case: 'trialStopped',
        value: {
          trialId: stopped.id,
          candidateId: 'c-stopped',
          stage: 'screen',
          gpuClass: 'cpu',
          workerId: 'w1',
          reason,
          evidence: { look: 0.3, candidateValue: 4.1, baselineMean: 3.6, n: 3, worseBy: 0.5, threshold: 0.2 },
        },
      },
      dedupeIds.trialStopped(stopped.id),
    );
    for (const t of [stopped, rogue])
      await ledger.append({
        case: 'trialFinished',
        value: {
          result: {
            trialId: t.id,
            status: TrialStatus.STOPPED,
            reason: t === stopped ? reason : 'stopped by nobody the ledger knows',
            gpuClass: 'cpu',
            runMs: 1000n,
          },
        },
      });
    const before = queued.length;
    await scheduler.tick();

    const s = ledger.state;
    const v = s.candidates.get('c-stopped')!;
    expect(v.state).toBe(CandidateState.REJECTED);
    expect(v.verdicts).toHaveLength(1);
    expect(v.verdicts[0]).toMatchObject({
      kind: VerdictKind.REJECT,
      stage: 'screen',
      reason,
      trialIds: [stopped.id],
      gpuClass: 'cpu',
      n: 0,
      delta: 0,
      candidateMean: 0,
    });

    // No evidence behind the rogue STOPPED: no verdict, the replicate runs again.
    const r = s.candidates.get('c-rogue')!;
    expect(r.state).toBe(CandidateState.ACTIVE);
    expect(r.verdicts).toEqual([]);
    const retried = queued.slice(before).filter((t) => t.candidateId === 'c-rogue');
    expect(retried).toHaveLength(1);
    expect(retried[0]!.replicate).toBe(rogue.replicate);
    expect(retried[0]!.attempt).toBe(rogue.attempt + 1);
    expect(queued.slice(before).filter((t) => t.candidateId === 'c-stopped')).toEqual([]);
  });
});
