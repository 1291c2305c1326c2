import { describe, expect, it } from 'vitest';
import { encode } from '../common/codec.js';
import { StopTrialRequestSchema } from '../gen/arswarm/v1/trial_pb.js';
import { stopDecision } from './stop-listener.js';

const req = (trialId: string, reason = 'curve worse than the baseline at 30%') =>
  encode(StopTrialRequestSchema, { trialId, reason });

describe('stopDecision', () => {
  it('stops the running trial, for the request’s reason', () => {
    expect(stopDecision(req('t1'), 't1', true)).toEqual({
      stopped: true,
      reason: 'curve worse than the baseline at 30%',
    });
  });

  it('answers `not running` after the exit or for another trial', () => {
    expect(stopDecision(req('t1'), 't1', false)).toEqual({ stopped: false, reason: 'not running' });
    expect(stopDecision(req('t2'), 't1', true)).toEqual({ stopped: false, reason: 'not running' });
  });

  it('refuses a malformed body, saying so', () => {
    const d = stopDecision(new Uint8Array([0xff, 0xff, 0xff]), 't1', true);
    expect(d.stopped).toBe(false);
    expect(d.reason).toMatch(/^malformed request: malformed arswarm\.v1\.StopTrialRequest payload/);
  });
});
