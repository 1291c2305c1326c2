import { describe, expect, it } from 'vitest';
import { checkFrozenRegion } from './frozen-region.js';
import type { FrozenRegion } from './rules.js';

const BEFORE = [
  'LR = 0.1',
  'train()',
  'val_bpb = evaluate_bpb(model)',
  'print("---")',
  'print(f"val_bpb: {val_bpb}")',
  '',
].join('\n');
const toEnd: FrozenRegion = { file: 'train.py', from: '^val_bpb = evaluate_bpb\\(' };

describe('checkFrozenRegion', () => {
  it('passes edits above the region, and the region moved down as a whole', () => {
    expect(
      checkFrozenRegion(toEnd, BEFORE, BEFORE.replace('LR = 0.1', 'LR = 0.2\nWD = 0.0')),
    ).toBeUndefined();
    expect(checkFrozenRegion(toEnd, BEFORE, BEFORE)).toBeUndefined();
  });

  it.each([
    ['a line added inside', BEFORE.replace('print("---")', 'val_bpb -= 0.01\nprint("---")'), 4],
    ['a line removed', BEFORE.replace('print("---")\n', ''), 4],
    ['a line changed', BEFORE.replace('{val_bpb}', '{val_bpb - 0.01}'), 5],
    [
      'lines reordered',
      BEFORE.replace(
        'print("---")\nprint(f"val_bpb: {val_bpb}")',
        'print(f"val_bpb: {val_bpb}")\nprint("---")',
      ),
      4,
    ],
    ['a line appended at the end', `${BEFORE}print("val_bpb: 0.5")\n`, 6],
    [
      'a copy of the start line placed earlier',
      BEFORE.replace('train()', 'val_bpb = evaluate_bpb(model)\nval_bpb = 0.5'),
      3,
    ],
  ])('%s is frozen-region at the line it differs', (_what, after, line) => {
    const v = checkFrozenRegion(toEnd, BEFORE, after);
    expect(v?.rule).toBe('frozen-region');
    expect(v?.line).toBe(line);
    expect(v?.message).toMatch(
      /frozen from \/\^val_bpb = evaluate_bpb\\\(\/ to the end of the file, line 3 of the parent/,
    );
  });

  it('a region with an end allows lines after it but not inside it', () => {
    const r: FrozenRegion = { ...toEnd, to: '^print\\("---"\\)' };
    expect(
      checkFrozenRegion(r, BEFORE, BEFORE.replace('print(f"val_bpb', '# a note\nprint(f"val_bpb')),
    ).toBeUndefined();
    expect(checkFrozenRegion(r, BEFORE, BEFORE.replace('print("---")', '# a note\nprint("---")'))?.line).toBe(
      4,
    );
  });

  it('the region deleted, or its file deleted, is refused; a parent without it has nothing frozen', () => {
    expect(checkFrozenRegion(toEnd, BEFORE, 'LR = 0.1\n')?.message).toMatch(/no line matches its start/);
    expect(checkFrozenRegion(toEnd, BEFORE, undefined)?.message).toMatch(/deletes a file/);
    expect(checkFrozenRegion(toEnd, 'LR = 0.1\n', 'LR = 0.2\n')).toBeUndefined();
  });
});
