/**
 * The optuna proposer driving a real local swarm (nats-server, coordinator,
 * worker processes) on the landscape: TPE over two constants with large
 * effects, told each candidate's screen value through the ledger, until a
 * candidate of its own has passed every stage and merged.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CandidateState } from '../../gen/arswarm/v1/candidate_pb.js';
import { startLocalSwarm, type LocalSwarm } from '../support/local-swarm.js';
import { until } from '../support/candidates.js';

describe('optuna proposer in a local swarm', () => {
  let swarm: LocalSwarm | undefined;
  const logs: string[] = [];

  afterAll(async () => {
    await swarm?.stop();
  });

  it('proposes, learns from verdicts and merges a change of its own', async () => {
    swarm = await startLocalSwarm({
      example: 'landscape',
      workers: 3,
      logs,
      edit: (c) => {
        c.target.env.ARSWARM_TIME_SCALE = '0.0005';
        c.swarm.merge_policy = 'auto';
        c.swarm.prefix = 'optunaswarm';
        c.swarm.max_trials = 150;
        c.proposers = [
          {
            kind: 'optuna',
            name: 'optuna',
            sampler: 'tpe',
            seed: 2,
            // Two constants the landscape rewards strongly; the rest stay put.
            exclude: [
              'SEED',
              'DEPTH',
              'MODEL_DIM',
              'N_HEADS',
              'MLP_RATIO',
              'WEIGHT_DECAY',
              'DROPOUT',
              'BATCH_SIZE',
              'GRAD_CLIP',
              'ADAM_BETA1',
            ],
            bounds: { LEARNING_RATE: { low: 0.0005, high: 0.02, log: true } },
            hybrid: false,
            startup_trials: 4,
            python: '/usr/bin/python3',
          },
        ];
      },
    });
    const state = swarm.coordinator.ledger.state;
    await until(() => state.merges.length > 0, 55_000, 'a merge');
    const merged = state.candidates.get(state.merges[0]!.candidateId)!;
    expect(merged.state).toBe(CandidateState.MERGED);
    expect(merged.candidate.proposer).toBe('optuna');
    expect(merged.candidate.title).toMatch(/^tpe #\d+: /);
    // Every candidate came from the optimizer, none was a repeat.
    const all = [...state.candidates.values()];
    expect(all.every((v) => v.candidate.proposer === 'optuna')).toBe(true);
    expect(new Set(all.map((v) => v.candidate.diff)).size).toBe(all.length);
    // The diff changes only the searched constants.
    const changed = merged.candidate.diff.split('\n').filter((l) => /^[-+][A-Z]/.test(l));
    expect(changed.every((l) => /^[-+](LEARNING_RATE|WARMUP_STEPS) = /.test(l))).toBe(true);
  }, 90_000);
});
