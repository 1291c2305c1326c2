import { describe, expect, it } from 'vitest';
import { isFailLine, lastProgress, parseOutput, ProgressTracker } from './output-parser.js';

const block = [
  '---',
  'val_bpb:          0.997900',
  'training_seconds: 300.1',
  'peak_vram_mb:     45060.2',
  'mfu_percent:      39.80',
  'depth:            8',
  'note:             hello',
].join('\n');

describe('parseOutput', () => {
  it('reads the aligned block after \\r progress lines', () => {
    const progress =
      'step 00001 (0.1%) | loss: 9.0\rstep 00500 (52.4%) | loss: 4.1\rstep 00953 (100.0%) | loss: 3.2\n';
    const out = parseOutput(progress + block + '\n');
    expect(out.hasBlock).toBe(true);
    expect(out.metrics).toEqual({
      val_bpb: 0.9979,
      training_seconds: 300.1,
      peak_vram_mb: 45060.2,
      mfu_percent: 39.8,
      depth: 8,
    });
    expect(out.failLine).toBe(false);
    expect(out.nonFinite).toEqual([]);
  });

  it('reports a missing block', () => {
    const out = parseOutput('step 00001 (0.1%)\rTraceback (most recent call last):\n  boom\n');
    expect(out.hasBlock).toBe(false);
    expect(out.metrics).toEqual({});
  });

  it('accepts \\r\\n and a bare `---` separator that no key: value line follows', () => {
    const out = parseOutput('model:\r\n---\r\n---\r\nval_bpb: 1.5\r\npeak_vram_mb: 10\r\n');
    expect(out.metrics).toEqual({ val_bpb: 1.5, peak_vram_mb: 10 });
    expect(out.integrity).toBeUndefined();
  });

  it('a second block anywhere after the first is duplicate-result-block', () => {
    for (const text of [
      '---\r\nval_bpb: 2.0\r\n---\r\nval_bpb: 1.5\r\n',
      '---\nval_bpb: 2.0\nFAIL\n---\nval_bpb: 0.5\n',
      'step 1 (100.0%)\r---\nval_bpb: 1.0\ntraining_seconds: 300.1\nTraceback:\n  x\n---\nval_bpb: 0.5\n',
    ]) {
      const out = parseOutput(text);
      expect(out.integrity?.rule).toBe('duplicate-result-block');
      expect(out.integrity?.reason).toMatch(
        /^rule duplicate-result-block: a second result block at output line \d+ \(the first at line [12]\)/,
      );
    }
  });

  it('a key repeated inside the block is repeated-key, naming the key and lines; the first value is kept', () => {
    const out = parseOutput('---\nval_bpb: 1.0\ntraining_seconds: 300\nval_bpb: 0.5\n');
    expect(out.integrity).toEqual({
      rule: 'repeated-key',
      reason: 'rule repeated-key: val_bpb at output lines 2 and 4 of the result block',
    });
    expect(out.metrics.val_bpb).toBe(1.0);
  });

  it('separates NaN and inf values', () => {
    const out = parseOutput('---\nval_bpb: nan\nloss: -inf\nsteps: 3\n');
    expect(out.nonFinite).toEqual(['val_bpb', 'loss']);
    expect(out.metrics).toEqual({ steps: 3 });
  });

  it('sees a FAIL line and OOM text', () => {
    expect(parseOutput('step 1\rFAIL\n').failLine).toBe(true);
    expect(parseOutput('FAILED to start\n').failLine).toBe(false);
    expect(
      parseOutput('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n').oomText,
    ).toBe(true);
    expect(parseOutput('all fine\n').oomText).toBe(false);
  });
});

describe('progress', () => {
  it('takes the last percentage of a chunk', () => {
    expect(lastProgress('step 00001 (0.1%) | x\rstep 00953 (100.0%) | mfu: 39.8%')).toBe(1);
    expect(lastProgress('no progress here 40%')).toBeUndefined();
  });

  it('follows a percentage split across chunks', () => {
    const t = new ProgressTracker();
    t.push('step 00010 (25.');
    expect(t.progress).toBe(0);
    t.push('0%) | loss 3\r');
    expect(t.progress).toBe(0.25);
  });
});

describe('isFailLine', () => {
  it('accepts FAIL alone or glued to a progress line, and nothing else', () => {
    expect(isFailLine('FAIL')).toBe(true);
    expect(isFailLine('step 00953 (100.0%) | loss: 3.2 | remaining: 0s    FAIL')).toBe(true);
    expect(isFailLine('val_bpb: FAIL')).toBe(false);
    expect(isFailLine('FAILED to converge')).toBe(false);
  });
});
