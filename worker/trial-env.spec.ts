import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { TrialSchema } from '../gen/arswarm/v1/trial_pb.js';
import { loopEnv, trialVars } from './trial-env.js';

describe('trial environment', () => {
  it('keeps only the allowlist of the worker environment, plus caches and the GPU', () => {
    const env = loopEnv({
      base: {
        PATH: '/bin',
        HOME: '/h',
        LC_ALL: 'C',
        ARSWARM_TOKEN: 't',
        AWS_SECRET_ACCESS_KEY: 'k',
        NATS_URL: 'n',
      },
      cacheEnv: { HF_HOME: '/cache/hf' },
      gpuIndex: 2,
    });
    expect(env).toEqual({
      PATH: '/bin',
      HOME: '/h',
      LC_ALL: 'C',
      PYTHONUNBUFFERED: '1',
      HF_HOME: '/cache/hf',
      CUDA_VISIBLE_DEVICES: '2',
    });
    expect(loopEnv({ base: {}, cacheEnv: {}, gpuIndex: undefined }).CUDA_VISIBLE_DEVICES).toBe('');
  });

  it('adds the trial parameters, stage over target, never credentials or a GPU override', () => {
    const trial = create(TrialSchema, {
      id: 't1',
      seed: 42,
      stage: { name: 'screen', budgetSeconds: 300, env: { DEPTH: '8', LR: '2' } },
      target: {
        env: {
          LR: '1',
          ARSWARM_TOKEN: 'x',
          ARSWARM_WORKER_TOKEN: 'w',
          NATS_CREDS: 'y',
          CUDA_VISIBLE_DEVICES: '7',
          'BAD NAME': 'z',
        },
      },
    });
    expect(trialVars(trial)).toEqual({
      LR: '2',
      DEPTH: '8',
      TIME_BUDGET: '300',
      ARSWARM_STAGE: 'screen',
      SEED: '42',
      ARSWARM_TRIAL_ID: 't1',
    });
  });
});
