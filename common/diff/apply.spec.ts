import { describe, expect, it } from 'vitest';
import { applyHunks, applyTexts } from './apply.js';
import { checkPatch } from './check.js';
import { fromLines, toLines } from './lines.js';
import { parseDiff } from './parse.js';

const rules = { editable: ['*.py'], locked: [], protected: [], maxPatchBytes: 65536 };
const apply = (diff: string, before: Record<string, string>) =>
  applyTexts(checkPatch(diff, rules).sections, new Map(Object.entries(before)));

describe('applyTexts', () => {
  it('applies hunks where the header says, or offset, and keeps a missing final newline', () => {
    const diff = ['--- a/t.py', '+++ b/t.py', '@@ -2,2 +2,2 @@', ' b', '-c', '+C', ''].join('\n');
    expect(apply(diff, { 't.py': 'a\nb\nc\nd\n' }).get('t.py')).toBe('a\nb\nC\nd\n');
    expect(apply(diff, { 't.py': 'z\nz\na\nb\nc\n' }).get('t.py')).toBe('z\nz\na\nb\nC\n');
    const noEol = [
      '--- a/t.py',
      '+++ b/t.py',
      '@@ -1 +1 @@',
      '-a',
      '\\ No newline at end of file',
      '+b',
      '\\ No newline at end of file',
      '',
    ].join('\n');
    expect(apply(noEol, { 't.py': 'a' }).get('t.py')).toBe('b');
  });

  it('new and deleted files', () => {
    const diff = [
      'diff --git a/n.py b/n.py',
      'new file mode 100644',
      '--- /dev/null',
      '+++ b/n.py',
      '@@ -0,0 +1,2 @@',
      '+x = 1',
      '+y = 2',
      'diff --git a/o.py b/o.py',
      'deleted file mode 100644',
      '--- a/o.py',
      '+++ /dev/null',
      '@@ -1 +0,0 @@',
      '-z = 3',
      '',
    ].join('\n');
    const out = apply(diff, { 'o.py': 'z = 3\n' });
    expect(out.get('n.py')).toBe('x = 1\ny = 2\n');
    expect(out.has('o.py') && out.get('o.py') === undefined).toBe(true);
  });

  it('refuses a hunk that matches nowhere', () => {
    const diff = ['--- a/t.py', '+++ b/t.py', '@@ -1 +1 @@', '-q', '+r', ''].join('\n');
    expect(() => apply(diff, { 't.py': 'a\n' })).toThrow(/does not apply: the hunk at line 1 of t.py/);
  });
});

describe('applyHunks', () => {
  const hunks = (diff: string) => parseDiff(diff)[0]!.hunks;
  const fail = (_h: unknown, n: number): never => {
    throw new Error(`hunk ${n + 1} does not match`);
  };
  const run = (text: string, diff: string, fuzz = false) =>
    fromLines(applyHunks(toLines(text), hunks(diff), fail, { fuzz }));
  const change = ['--- a/t.py', '+++ b/t.py', '@@ -2,3 +2,3 @@', ' b', '-c', '+C', ' d', ''].join('\n');

  it('takes the later of two equally near matches, as git apply does', () => {
    const one = ['--- a/t.py', '+++ b/t.py', '@@ -2 +2 @@', '-c', '+C', ''].join('\n');
    expect(run('c\nx\nc\n', one)).toBe('c\nx\nC\n');
  });

  it('applies hunks in order: a later hunk never matches what an earlier one wrote', () => {
    const two = ['--- a/t.py', '+++ b/t.py', '@@ -1 +1 @@', '-x', '+a', '@@ -2 +2 @@', '-a', '+c', ''].join(
      '\n',
    );
    expect(run('x\na\n', two)).toBe('a\nc\n');
    expect(() => run('x\n', two)).toThrow('hunk 2 does not match');
  });

  it('compares the final newline too', () => {
    const noEol = [
      '--- a/t.py',
      '+++ b/t.py',
      '@@ -1 +1 @@',
      '-a',
      '\\ No newline at end of file',
      '+b',
      '',
    ].join('\n');
    expect(run('a', noEol)).toBe('b\n');
    expect(() => run('a\n', noEol)).toThrow('hunk 1 does not match');
  });

  it('matches with less context only with fuzz, and never without the removed lines', () => {
    const moved = 'b\nc\nD\n';
    expect(() => run(moved, change)).toThrow('hunk 1 does not match');
    expect(run(moved, change, true)).toBe('b\nC\nD\n');
    expect(() => run('b\nx\nd\n', change, true)).toThrow('hunk 1 does not match');
  });

  it('inserts into an empty file', () => {
    const add = ['--- a/t.py', '+++ b/t.py', '@@ -0,0 +1 @@', '+x', ''].join('\n');
    expect(run('', add)).toBe('x\n');
  });
});
