/**
 * Mid-slot stopping end to end: a real nats-server, the real coordinator and
 * two real `arswarm worker` processes run a tiny target that prints
 * autoresearch's progress line over a 10 s slot (test/fixtures/early-stop-target).
 * After the head's five baseline runs, a candidate that raises the loss
 * curve is stopped at the first look past 30% of the slot: the TrialStopped
 * fact with its evidence is in the ledger before the worker kills the run,
 * the result is STOPPED after clearly less than the slot, the stage's
 * verdict is REJECT with the stop's reason, and status, show and the journal
 * say so. An honest candidate beside it runs its whole slot. The verdicts
 * audit clean.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { auditVerdicts } from '../coordinator/audit-verdicts.js';
import { knobDiff, TOKENS, waitFor } from './support/control-swarm.js';
import { ROOT, runCli, startLocalSwarm, type LocalSwarm } from './support/local-swarm.js';
import type { Role } from '../common/config.js';

const SLOT_MS = 10_000;

describe('mid-slot stopping on a real swarm', () => {
  let swarm: LocalSwarm;
  const logs: string[] = [];

  const cli = (args: string[]) => runCli(swarm, args, TOKENS.viewer);

  beforeAll(async () => {
    swarm = await startLocalSwarm({
      example: 'early-stop',
      source: join(ROOT, 'test', 'fixtures', 'early-stop-target'),
      workers: 2,
      logs,
      edit: (c) => {
        c.swarm.prefix = 'estop';
        c.api.tokens = (Object.keys(TOKENS) as Role[]).map((role) => ({
          name: role,
          token: TOKENS[role],
          role,
        }));
      },
    });
    // No proposer: the head's five baselines are the only work until the test submits.
    await waitFor(
      () => {
        const s = swarm.coordinator.ledger.state;
        return s.finished >= 5 && s.pending.size === 0 ? true : undefined;
      },
      'the five baseline runs',
      150_000,
    );
  }, 180_000);

  afterAll(async () => {
    await swarm?.stop();
  });

  it('stops the worse candidate mid-slot with evidence, lets the honest one run, and shows it', async () => {
    const c = swarm.coordinator;
    const s = c.ledger.state;
    const baselines = [...s.trials.values()].filter((t) => t.result);
    expect(baselines).toHaveLength(5);
    for (const b of baselines) {
      expect(b.result!.status).toBe(TrialStatus.OK);
      // Every run records its binned learning curve.
      expect(b.result!.curve.length).toBeGreaterThan(10);
      expect(Number(b.result!.runMs)).toBeGreaterThanOrEqual(SLOT_MS);
    }
    const bad = await c.submit({
      diff: knobDiff(swarm.repoDir, 'LOSS_SHIFT', '0.5'),
      title: 'raise the loss',
      hypothesis: 'a worse change',
      proposer: 'human:test',
    });
    const honest = await c.submit({
      diff: knobDiff(swarm.repoDir, 'WIDTH', '3'),
      title: 'a no-op',
      hypothesis: 'changes nothing',
      proposer: 'human:test',
    });
    await waitFor(
      () =>
        [bad, honest].every((id) => {
          const v = s.candidates.get(id);
          return v && v.state !== CandidateState.ACTIVE && s.candidateTrials(id).every((t) => t.result);
        })
          ? true
          : undefined,
      'both candidates decided with their results in',
      150_000,
    );

    // The worse candidate: a stop with the look's evidence, recorded before its result.
    const [badTrial] = s.candidateTrials(bad);
    expect(badTrial).toBeDefined();
    const stop = s.stops.get(badTrial!.trial.id);
    expect(stop, logs.join('\n')).toBeDefined();
    const e = stop!.evidence!;
    expect(e.look).toBeGreaterThanOrEqual(0.3);
    expect(e.look).toBeLessThan(0.7);
    expect(e.n).toBe(5);
    expect(e.df).toBe(4);
    expect(e.alpha).toBe(0.01);
    expect(e.worseBy).toBeGreaterThan(e.threshold);
    expect(e.worseBy).toBeGreaterThan(0.3);
    expect(stop!.reason).toMatch(/^stopped at \d+% of the slot/);
    expect(stop!.candidateId).toBe(bad);
    expect(stop!.stage).toBe('screen');
    const events: Event[] = [];
    for await (const ev of c.ledger.history(1n)) events.push(ev);
    const stoppedAt = events.findIndex((ev) => ev.body.case === 'trialStopped');
    const finishedAt = events.findIndex(
      (ev) => ev.body.case === 'trialFinished' && ev.body.value.result?.trialId === badTrial!.trial.id,
    );
    expect(stoppedAt).toBeGreaterThan(0);
    expect(finishedAt).toBeGreaterThan(stoppedAt);
    const r = badTrial!.result!;
    expect(r.status).toBe(TrialStatus.STOPPED);
    expect(r.reason).toBe(stop!.reason);
    // The GPU moved on: the run took clearly less than the slot.
    expect(Number(r.runMs)).toBeLessThan(0.75 * SLOT_MS);
    expect(r.curve.length).toBeGreaterThan(0);
    const badView = s.candidates.get(bad)!;
    expect(badView.state).toBe(CandidateState.REJECTED);
    const verdict = badView.verdicts.at(-1)!;
    expect(verdict.kind).toBe(VerdictKind.REJECT);
    expect(verdict.reason).toBe(stop!.reason);
    expect(verdict.trialIds).toEqual([badTrial!.trial.id]);
    // Nothing reads the loss as the metric: the verdict's metric fields are empty.
    expect(verdict.n).toBe(0);

    // The honest candidate ran its whole slot and was judged on its metric.
    const honestTrials = s.candidateTrials(honest);
    expect(honestTrials.length).toBeGreaterThan(0);
    for (const t of honestTrials) {
      expect(s.stops.has(t.trial.id)).toBe(false);
      expect(t.result!.status).toBe(TrialStatus.OK);
      expect(Number(t.result!.runMs)).toBeGreaterThanOrEqual(SLOT_MS);
    }
    expect(s.candidates.get(honest)!.verdicts.at(-1)!.n).toBeGreaterThan(0);
    expect(s.stops.size).toBe(1);

    // The stop's own bar holds in an audit of the whole ledger.
    expect(auditVerdicts(events, swarm.config).problems).toEqual([]);

    // status, show and the journal.
    const status = await cli(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/stopped mid-slot: screen 1 \(saved \d+s GPU\)/);
    const metrics = await (await fetch(`http://127.0.0.1:${c.httpPort}/metrics`)).text();
    expect(metrics).toContain('arswarm_trials_stopped_total{stage="screen"} 1\n');
    expect(metrics).toContain('arswarm_trials_total{stage="screen",status="stopped"} 1\n');
    const saved = Number(/arswarm_stop_saved_gpu_seconds_total\{stage="screen"\} (\S+)/.exec(metrics)?.[1]);
    // A full run (the baselines' run time) minus the stopped run: at least a quarter of the slot.
    expect(saved).toBeGreaterThan(0.25 * (SLOT_MS / 1000));
    const show = await cli(['show', bad]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(stop!.reason);
    expect(show.stdout).toMatch(/look \d+% of \d+: candidate/);
    expect(show.stdout).toMatch(/stopped at \d+%/);
    const journal = await waitFor(() => {
      const text = readFileSync(join(swarm.stateDir, 'journal.md'), 'utf8');
      return text.includes(stop!.reason) ? text : undefined;
    }, 'the journal to show the stop');
    expect(journal).toContain(`screen: ${stop!.reason}`);
    expect(logs.some((l) => l.includes(`trial ${badTrial!.trial.id}`) && l.includes('stopped at'))).toBe(
      true,
    );
  }, 240_000);
});
