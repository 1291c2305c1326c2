import { describe, expect, it } from 'vitest';
import { ArswarmError } from '../../../common/errors.js';
import { checkPythonSyntax, PythonSyntaxChecker } from './syntax.js';

describe('python syntax check', () => {
  it('passes valid files and skips non-Python ones', async () => {
    await checkPythonSyntax([
      { path: 'train.py', content: 'LR = 0.001\nprint(LR)\n' },
      { path: 'notes.md', content: '(((' },
    ]);
  });

  it('names the file and line of a syntax error, without the temp dir', async () => {
    const err = await checkPythonSyntax([{ path: 'pkg/train.py', content: 'LR = (0.001\nx = 1\n' }]).catch(
      (e: unknown) => e as ArswarmError,
    );
    expect(err).toBeInstanceOf(ArswarmError);
    expect(err!.reason).toBe('syntax_error');
    expect(err!.message).toMatch(/^pkg\/train.py does not compile:/);
    expect(err!.message).toMatch(/line 1/);
    expect(err!.message).not.toMatch(/arswarm-syntax-/);
  });

  it('answers many checks, concurrently, from one python process', async () => {
    const c = new PythonSyntaxChecker();
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        c.check([{ path: 'train.py', content: i % 3 ? `X = ${i}\n` : `X = (${i}\n` }]).then(
          () => 'ok',
          (e: unknown) => (e as ArswarmError).reason,
        ),
      ),
    );
    expect(results.filter((r) => r === 'syntax_error')).toHaveLength(4);
    expect(results.filter((r) => r === 'ok')).toHaveLength(8);
    await c.close();
  });

  it('skips the check when python3 is missing', async () => {
    await checkPythonSyntax([{ path: 'train.py', content: '(((' }], { python: 'no-such-python-3' });
  });
});
