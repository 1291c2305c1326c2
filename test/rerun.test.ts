/**
 * `arswarm rerun TRIAL` on a real local swarm (nats-server child, landscape
 * workers as child processes, the real CLI as a child process): a finished
 * baseline trial is copied exactly (commit, stage env, seed, target, class),
 * runs on a worker, and its metric equals the original's (the landscape's
 * noise is seeded); the ladder's counts, samples and trial budget are the
 * same before and after. A viewer may not rerun.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { startControlSwarm, TOKENS, waitFor } from './support/control-swarm.js';
import { runCli, type LocalSwarm } from './support/local-swarm.js';

describe('arswarm rerun', () => {
  let swarm: LocalSwarm;

  const cli = (args: string[], token: string) => runCli(swarm, args, token);

  /** What the ladder counts: any change here would mean the rerun leaked into it. */
  const counts = (gpuClass: string) => {
    const s = swarm.coordinator.ledger.state;
    return {
      trials: s.trials.size,
      finished: s.finished,
      pending: s.pending.size,
      stages: structuredClone([...s.stageCounts.entries()]),
      baseline: s.baseline(s.head, 'screen', gpuClass).map((x) => x.trialId),
    };
  };

  beforeAll(async () => {
    swarm = await startControlSwarm({ prefix: 'rerun', edit: (c) => (c.stages = c.stages.slice(0, 1)) });
    // No proposer: the head's baselines are the only work; wait until they are all done.
    await waitFor(() => {
      const s = swarm.coordinator.ledger.state;
      return s.finished >= 3 && s.pending.size === 0 ? true : undefined;
    }, 'the baselines finished');
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
  });

  it('reproduces a finished baseline trial exactly, side by side, and the ladder does not see it', async () => {
    const s = swarm.coordinator.ledger.state;
    const original = [...s.trials.values()].find((t) => t.result?.status === TrialStatus.OK)!;
    expect(original).toBeDefined();
    const before = counts(original.result!.gpuClass);
    expect(before.baseline.length).toBeGreaterThanOrEqual(3);

    const json = await cli(['rerun', original.trial.id, '--wait', '--json'], TOKENS.reviewer);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as {
      rerun: {
        id: string;
        kind: string;
        seed: number;
        gpuClass: string;
        parentCommit: string;
        stage: { env: Record<string, string> };
      };
      original: { trialId: string; metric: number };
      result: { status: string; metric: number; gpuClass: string };
    };
    expect(r.rerun.id).toBe(`${original.trial.id}.rerun1`);
    expect(r.rerun.kind).toBe('TRIAL_KIND_RERUN');
    expect(r.rerun.seed).toBe(original.trial.seed);
    expect(r.rerun.parentCommit).toBe(original.trial.parentCommit);
    expect(r.rerun.stage.env).toEqual(original.trial.stage!.env);
    expect(r.rerun.gpuClass).toBe(original.result!.gpuClass);
    expect(r.original.trialId).toBe(original.trial.id);
    expect(r.result.status).toBe('TRIAL_STATUS_OK');
    expect(r.result.gpuClass).toBe(original.result!.gpuClass);
    expect(r.result.metric).toBe(original.result!.metric);

    // Not evidence, not a baseline, not a trial the budget or the status counts.
    expect(counts(original.result!.gpuClass)).toEqual(before);
    expect(s.reruns.get(r.rerun.id)?.result?.metric).toBe(original.result!.metric);

    // A second rerun gets the next id; the table shows both results side by side.
    const text = await cli(['rerun', original.trial.id, '--wait'], TOKENS.reviewer);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`${original.trial.id.replace(/\./g, '\\.')}\\.rerun2`));
    const metricRow = text.stdout.split('\n').find((l) => l.startsWith('metric'))!;
    expect(metricRow.trim().split(/\s+/)).toEqual([
      'metric',
      original.result!.metric.toFixed(6),
      original.result!.metric.toFixed(6),
    ]);
    expect(text.stdout).toMatch(/^seed\s+\d+\s+\d+/m);
    expect(counts(original.result!.gpuClass)).toEqual(before);
  }, 90_000);

  it('refuses a viewer, an unknown trial and a rerun of a rerun', async () => {
    const s = swarm.coordinator.ledger.state;
    const original = [...s.trials.values()].find((t) => t.result)!;
    expect((await cli(['rerun', original.trial.id], TOKENS.viewer)).code).toBe(5);
    expect((await cli(['rerun', 'no-such-trial'], TOKENS.reviewer)).code).toBe(3);
    const again = await cli(['rerun', `${original.trial.id}.rerun1`], TOKENS.reviewer);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is a rerun');
  });
});
