/**
 * The autoresearch-mini example end to end: `arswarm.yaml` as shipped, a real
 * coordinator (its start checks the constants against the target) and two
 * real worker processes. Baselines of the head run at every rung, each with
 * the TIME_BUDGET its stage writes into the locked prepare.py.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrialKind, TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { startLocalSwarm, type LocalSwarm } from '../support/local-swarm.js';
import { until } from '../support/worker-harness.js';

let swarm: LocalSwarm;
const logs: string[] = [];

beforeAll(async () => {
  swarm = await startLocalSwarm({
    example: 'autoresearch-mini',
    workers: 2,
    logs,
    edit: (c) => {
      c.swarm.prefix = `arm${process.pid}`;
      c.swarm.max_trials = 40;
    },
  });
}, 60_000);

afterAll(async () => {
  await swarm?.stop();
});

describe('autoresearch-mini swarm', () => {
  it('runs every rung with its own TIME_BUDGET and the hashes of its own prepare.py', async () => {
    const state = () => swarm.coordinator.ledger.state;
    const finishedAt = (stage: string) =>
      // The head's baselines: they run at every rung from the start, whatever the candidates do.
      [...state().trials.values()].filter(
        (t) => t.trial.kind === TrialKind.BASELINE && t.trial.stage?.name === stage && t.result,
      );
    await until(
      () => ['screen', 'confirm', 'scale'].every((s) => finishedAt(s).length >= 2),
      50_000,
      `finished trials at every stage (log: ${logs.slice(-5).join(' | ')})`,
    );
    const prepare = readFileSync(join(swarm.repoDir, 'prepare.py'), 'utf8');
    expect(prepare).toMatch(/^TIME_BUDGET = 300\b/m);
    const hashes = new Map<string, string>();
    for (const s of swarm.config.stages) {
      for (const t of finishedAt(s.name)) {
        const r = t.result!;
        expect(r.status, `${t.trial.id}: ${r.reason}`).toBe(TrialStatus.OK);
        expect(r.metrics.training_seconds, t.trial.id).toBe(s.budget_seconds);
        expect(t.trial.target!.overrides.find((o) => o.name === 'TIME_BUDGET')?.value).toBe(
          String(s.budget_seconds),
        );
        hashes.set(s.name, t.trial.target!.lockedSha256['prepare.py']!);
      }
    }
    // Same budget, same file; a longer rung, another expected hash.
    expect(hashes.get('screen')).toBe(hashes.get('confirm'));
    expect(hashes.get('scale')).not.toBe(hashes.get('screen'));
  }, 60_000);
});
