/**
 * One candidate whose step throws must not stop a tick: the others are still
 * queued, the head's baselines still fed, the failure is visible and the
 * candidate is retried on the next tick. Real parts: the landscape target
 * repo, the trial factory, the merger, an in-memory ledger; the fault is a
 * queue that refuses one candidate's trials, until it takes them again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrialKind, type Trial } from '../gen/arswarm/v1/trial_pb.js';
import { ArswarmError, Code } from '../common/errors.js';
import {
  landscapeCopy,
  pausedLedger,
  proposeEdit,
  schedulerOf,
  type LandscapeCopy,
} from '../test/support/scheduler-fixture.js';

describe('scheduler tick: per-candidate error isolation', () => {
  let t: LandscapeCopy;
  beforeAll(async () => {
    t = await landscapeCopy('arswarm-tick-');
  });
  afterAll(() => t.remove());

  it('feeds the other candidates and the baselines, shows the failure, and retries it next tick', async () => {
    const { config } = t;
    const stages = config.stages.map((s) => s.name);
    const { ledger, head } = await pausedLedger(t, 'two candidates only');
    const propose = (id: string, from: string, to: string) => proposeEdit(t, ledger, head, id, from, to);
    // The broken one first: a tick that stopped at it would never reach the other.
    await propose('c-broken', 'WARMUP_STEPS = 0', 'WARMUP_STEPS = 50');
    await propose('c-fine', 'WARMUP_STEPS = 0', 'WARMUP_STEPS = 20');

    const queued: Trial[] = [];
    let refusing = true;
    const logs: string[] = [];
    const scheduler = schedulerOf(
      t,
      ledger,
      async (trial) => {
        if (refusing && trial.candidateId === 'c-broken')
          throw new ArswarmError(Code.InvalidArgument, `queue refuses ${trial.id}`);
        queued.push(trial);
      },
      (m) => logs.push(m),
    );
    const candidateTrials = (id: string) => queued.filter((q) => q.candidateId === id);

    await scheduler.tick();
    expect(candidateTrials('c-fine').length).toBe(config.stages[0]!.replicates);
    expect(candidateTrials('c-broken')).toEqual([]);
    // The head's baselines at every stage were still queued after the failure.
    const baselineStages = new Set(
      queued.filter((t) => t.kind === TrialKind.BASELINE).map((t) => t.stage?.name),
    );
    expect([...baselineStages].sort()).toEqual([...stages].sort());
    expect(scheduler.schedulingFailures).toBe(1);
    expect(scheduler.schedulingErrors()).toEqual([
      expect.stringMatching(/^candidate c-broken cannot be scheduled \(1 tick\(s\) so far\): queue refuses /),
    ]);
    expect(logs.filter((l) => l.startsWith('c-broken: scheduling failed'))).toHaveLength(1);

    // Retried on the next tick: counted again, logged once.
    await scheduler.tick();
    expect(scheduler.schedulingFailures).toBe(2);
    expect(scheduler.schedulingErrors()[0]).toMatch(/\(2 tick\(s\) so far\)/);
    expect(logs.filter((l) => l.startsWith('c-broken: scheduling failed'))).toHaveLength(1);

    // Once the fault is gone the next tick queues it and the warning clears.
    refusing = false;
    await scheduler.tick();
    expect(candidateTrials('c-broken').length).toBe(config.stages[0]!.replicates);
    expect(scheduler.schedulingErrors()).toEqual([]);
    expect(logs).toContain('c-broken: scheduling works again');
  });

  it('ends the tick on a transport failure, which every other candidate would meet too', async () => {
    const { ledger, head } = await pausedLedger(t, 'one candidate');
    await proposeEdit(t, ledger, head, 'c1', 'WARMUP_STEPS = 0', 'WARMUP_STEPS = 30');
    const scheduler = schedulerOf(t, ledger, async () => {
      throw new ArswarmError(Code.Unavailable, 'NATS is away');
    });
    await expect(scheduler.tick()).rejects.toThrow(/NATS is away/);
    expect(scheduler.schedulingErrors()).toEqual([]);
  });
});
