import { describe, expect, it } from 'vitest';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { classify, type RunEnd } from './classify.js';
import { parseOutput } from './output-parser.js';

const clean: RunEnd = { exitCode: 0, signal: null, timedOut: false, aborted: false };
const okOut = parseOutput('step 1 (100.0%)\r---\nval_bpb: 0.99\npeak_vram_mb: 10\n');

describe('classify', () => {
  it('ok with the metric', () => {
    expect(classify(clean, okOut, 'val_bpb')).toEqual({ status: TrialStatus.OK, reason: '', metric: 0.99 });
  });

  it('crash on a non-zero exit, even with a block', () => {
    const v = classify({ ...clean, exitCode: 3 }, okOut, 'val_bpb');
    expect(v.status).toBe(TrialStatus.CRASH);
    expect(v.reason).toContain('exit code 3');
  });

  it('crash on a missing block or missing metric', () => {
    expect(classify(clean, parseOutput('done\n'), 'val_bpb').status).toBe(TrialStatus.CRASH);
    expect(classify(clean, okOut, 'accuracy').reason).toContain('accuracy missing');
  });

  it('nan on a non-finite metric or a FAIL line', () => {
    expect(classify(clean, parseOutput('---\nval_bpb: nan\n'), 'val_bpb').status).toBe(TrialStatus.NAN);
    expect(classify({ ...clean, exitCode: 1 }, parseOutput('step 3\rFAIL\n'), 'val_bpb').status).toBe(
      TrialStatus.NAN,
    );
  });

  it('integrity on a second result block or a repeated key, even when the run crashed', () => {
    const twice = parseOutput('---\nval_bpb: 1.0\n---\nval_bpb: 0.5\n');
    expect(classify(clean, twice, 'val_bpb')).toMatchObject({ status: TrialStatus.INTEGRITY });
    expect(classify({ ...clean, exitCode: 1 }, twice, 'val_bpb').reason).toMatch(/duplicate-result-block/);
    const repeated = parseOutput('---\nval_bpb: 1.0\nval_bpb: 0.5\n');
    expect(classify(clean, repeated, 'val_bpb').reason).toMatch(/^rule repeated-key: val_bpb/);
  });

  it('oom on CUDA OOM text or an unexpected SIGKILL', () => {
    const oom = parseOutput('torch.OutOfMemoryError: CUDA out of memory.\n');
    expect(classify({ ...clean, exitCode: 1 }, oom, 'val_bpb').status).toBe(TrialStatus.OOM);
    expect(classify({ ...clean, exitCode: null, signal: 'SIGKILL' }, parseOutput(''), 'val_bpb').status).toBe(
      TrialStatus.OOM,
    );
  });

  it('the worker’s own verdicts win over the output', () => {
    expect(classify({ ...clean, timedOut: true, signal: 'SIGKILL' }, okOut, 'val_bpb').status).toBe(
      TrialStatus.TIMEOUT,
    );
    expect(classify(clean, okOut, 'val_bpb', 'prepare.py changed during the run').status).toBe(
      TrialStatus.INTEGRITY,
    );
    expect(classify({ ...clean, aborted: true }, okOut, 'val_bpb').status).toBe(TrialStatus.INFRA);
  });
});
