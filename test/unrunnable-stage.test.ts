/**
 * Bad input: a ladder whose first stage no worker of the fleet can run
 * (a memory floor on screen, CPU workers only). The swarm must say so — a
 * warning in the log and in status, the waiting work per stage — and must not
 * pile up candidates that can never run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './support/candidates.js';
import { startLocalSwarm, type LocalSwarm } from './support/local-swarm.js';

const WARNING =
  'stage screen needs a worker with >= 1000 MB of GPU memory; the live workers have at most CPU workers only: its candidates wait';

describe('a stage no live worker can run', () => {
  let swarm: LocalSwarm;
  const logs: string[] = [];

  beforeAll(async () => {
    swarm = await startLocalSwarm({
      example: 'landscape',
      workers: 2,
      logs,
      edit: (c) => {
        c.swarm.prefix = 'unrunnable';
        c.swarm.max_trials = 50;
        c.stages[0]!.min_gpu_memory_mb = 1000;
      },
    });
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
  });

  it('warns in the log and in status, shows the waiting work, and proposes no more than a first round', async () => {
    const c = swarm.coordinator;
    await until(() => logs.includes(`warning: ${WARNING}`), 30_000, 'the stage warning');
    const res = await fetch(`http://127.0.0.1:${c.httpPort}/api/GetStatus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${c.api.generated!.token}` },
      body: '{}',
    });
    const s = (await res.json()) as {
      warnings?: string[];
      stages: { name: string; waiting?: number; waitingCandidates?: number; waitingFor?: string }[];
    };
    expect(s.warnings).toContain(WARNING);
    const screen = s.stages.find((x) => x.name === 'screen')!;
    expect((screen.waiting ?? 0) + (screen.waitingCandidates ?? 0)).toBeGreaterThan(0);
    expect(screen.waitingFor).toBe('a worker with >= 1000 MB');
    // No screen trial ran, and the candidates are at most the first round proposed before a worker was seen.
    const state = c.ledger.state;
    const before = state.candidates.size;
    await new Promise((r) => setTimeout(r, 2000));
    // (Baselines of the stages without a floor run on the CPU workers.)
    const ran = [...state.trials.values()].filter((t) => t.result);
    expect(ran.filter((t) => t.trial.stage?.name === 'screen' || t.trial.candidateId)).toEqual([]);
    expect(state.candidates.size).toBe(before);
    expect(before).toBeLessThanOrEqual(swarm.config.swarm.workers * swarm.config.swarm.prefetch);
    expect(c.settledReason).toBe('');
  }, 60_000);
});
