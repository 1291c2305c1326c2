import { describe, expect, it } from 'vitest';
import { ArswarmError } from '../../../common/errors.js';
import { applyEdits, occurrences } from './edits.js';

const files: Record<string, string> = {
  'train.py': 'LR = 0.001\nx = 1\nx = 1\n    y = 2\n',
  'prepare.py': 'EVAL = 1\n',
  'README.md': 'hi\n',
};
const rules = { editable: ['train.py'], locked: ['prepare.py'] };
const read = async (p: string) => files[p];
const reasonOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return { reason: (err as ArswarmError).reason, message: (err as Error).message };
  }
  throw new Error('expected a refusal');
};

describe('search/replace edits', () => {
  it('applies edits in order, later edits seeing earlier ones', async () => {
    const out = await applyEdits(
      [
        { file: 'train.py', search: 'LR = 0.001', replace: 'LR = 0.002' },
        { file: './train.py', search: 'LR = 0.002\n', replace: 'LR = 0.004\nWARMUP = 10\n' },
      ],
      rules,
      read,
    );
    expect(out).toEqual([
      { path: 'train.py', content: 'LR = 0.004\nWARMUP = 10\nx = 1\nx = 1\n    y = 2\n' },
    ]);
  });

  it('refuses locked and non-editable files, missing files, and searches that do not match exactly once', async () => {
    expect(
      await reasonOf(applyEdits([{ file: 'prepare.py', search: 'EVAL', replace: 'X' }], rules, read)),
    ).toMatchObject({
      reason: 'locked_file',
      message: expect.stringContaining('prepare.py is locked'),
    });
    expect(
      (await reasonOf(applyEdits([{ file: 'README.md', search: 'hi', replace: 'x' }], rules, read))).reason,
    ).toBe('not_editable');
    const missing = await reasonOf(
      applyEdits([{ file: 'train.py', search: 'LR = 0.5', replace: 'x' }], rules, read),
    );
    expect(missing.reason).toBe('search_not_found');
    expect(missing.message).toMatch(/edit 1 \(train.py\): the search string was not found/);
    const ws = await reasonOf(
      applyEdits(
        [{ file: 'train.py', search: 'y = 2', replace: 'y = 3' }].map((e) => ({ ...e, search: '  y  =  2' })),
        rules,
        read,
      ),
    );
    expect(ws.message).toMatch(/differs in whitespace/);
    expect(
      (await reasonOf(applyEdits([{ file: 'train.py', search: 'x = 1', replace: 'x = 2' }], rules, read)))
        .reason,
    ).toBe('search_ambiguous');
  });

  it('counts non-overlapping occurrences', () => {
    expect(occurrences('aaaa', 'aa')).toBe(2);
    expect(occurrences('abc', 'd')).toBe(0);
  });
});
