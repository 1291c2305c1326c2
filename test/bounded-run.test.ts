/**
 * A bounded run ends when its proposers have nothing left, not only when its
 * trial budget is spent: the landscape with the knobs proposer limited to one
 * constant (WEIGHT_DECAY, which does nothing) runs out of untried settings
 * long before a 500-trial budget, and the run settles by itself with the
 * reason. Without a bound the swarm keeps serving and status says the
 * proposers are exhausted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import type { Config } from '../common/config.js';
import { KNOB_RINGS } from '../coordinator/proposers/knobs.js';
import { until } from './support/candidates.js';
import { startLocalSwarm, type LocalSwarm } from './support/local-swarm.js';

/** Every landscape constant but WEIGHT_DECAY (a knob with no effect). */
const OTHERS = [
  'SEED',
  'DEPTH',
  'MODEL_DIM',
  'N_HEADS',
  'MLP_RATIO',
  'LEARNING_RATE',
  'WARMUP_STEPS',
  'DROPOUT',
  'BATCH_SIZE',
  'ADAM_BETA1',
  'GRAD_CLIP',
];
const EXHAUSTED = `every proposer is exhausted or over budget (knobs: no untried setting of its 1 constants within ${KNOB_RINGS} steps)`;

function oneKnob(prefix: string, maxTrials: number) {
  return (c: Config) => {
    c.target.env.ARSWARM_TIME_SCALE = '0.0005';
    c.swarm.merge_policy = 'auto';
    c.swarm.prefix = prefix;
    c.swarm.max_trials = maxTrials;
    c.proposers = [{ kind: 'knobs', exclude: OTHERS, seed: 1 }] as Config['proposers'];
  };
}

async function statusOf(
  swarm: LocalSwarm,
): Promise<{ proposersExhausted?: string; trialsFinished?: string }> {
  const res = await fetch(`http://127.0.0.1:${swarm.coordinator.httpPort}/api/GetStatus`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${swarm.coordinator.api.generated!.token}`,
    },
    body: '{}',
  });
  return (await res.json()) as { proposersExhausted?: string };
}

describe('a bounded run whose proposer exhausts', () => {
  let swarm: LocalSwarm;
  const logs: string[] = [];

  beforeAll(async () => {
    swarm = await startLocalSwarm({
      example: 'landscape',
      workers: 2,
      logs,
      edit: oneKnob('boundedrun', 500),
    });
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
  });

  it('ends by itself, with the reason, long before its trial budget', async () => {
    await swarm.coordinator.settled;
    const c = swarm.coordinator;
    const s = c.ledger.state;
    expect(c.settledReason).toBe(EXHAUSTED);
    expect(s.finished).toBeLessThan(500);
    expect(s.pending.size).toBe(0);
    const states = [...s.candidates.values()].map((v) => v.state);
    expect(states.filter((x) => x === CandidateState.ACTIVE || x === CandidateState.REVIEW)).toEqual([]);
    // WEIGHT_DECAY = 0.0 has 2 + 2 + 1 per further ring untried settings at a head.
    const knobs = [...s.candidates.values()].filter((v) => v.candidate.proposer === 'knobs');
    expect(knobs.length).toBeGreaterThanOrEqual(4 + (KNOB_RINGS - 2));
    expect(logs).toContain(`settled: ${EXHAUSTED} and nothing is in flight; ${s.finished} trials`);
    expect((await statusOf(swarm)).proposersExhausted).toBe(EXHAUSTED);
  }, 120_000);
});

describe('an unbounded run whose proposer exhausts', () => {
  let swarm: LocalSwarm;
  const logs: string[] = [];

  beforeAll(async () => {
    swarm = await startLocalSwarm({
      example: 'landscape',
      workers: 2,
      logs,
      edit: oneKnob('unboundedrun', 0),
    });
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
  });

  it('keeps serving, and status says the proposers are exhausted', async () => {
    const c = swarm.coordinator;
    await until(
      () => c.proposersExhausted() !== undefined && c.ledger.state.pending.size === 0,
      90_000,
      'exhaustion',
    );
    let settled = false;
    void c.settled.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 1000));
    expect(settled).toBe(false);
    expect(c.state).toBe('running');
    expect((await statusOf(swarm)).proposersExhausted).toBe(EXHAUSTED);
    expect(logs).toContain(`proposers exhausted: ${EXHAUSTED}`);
    const metrics = await (await fetch(`http://127.0.0.1:${c.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^arswarm_proposers_exhausted 1$/m);
  }, 120_000);
});
