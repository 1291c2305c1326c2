import { describe, expect, it } from 'vitest';
import { ArswarmError } from '../errors.js';
import { checkPatch, type PatchRules } from './check.js';

const rules: PatchRules = {
  editable: ['train.py', 'model/**/*.py'],
  locked: ['prepare.py'],
  protected: ['^print\\(f"val_bpb:'],
  maxPatchBytes: 4096,
};

const good = [
  'diff --git a/train.py b/train.py',
  'index 3b18e51..4c9a2f0 100644',
  '--- a/train.py',
  '+++ b/train.py',
  '@@ -1,3 +1,3 @@',
  ' import os',
  '-LR = 0.01',
  '+LR = 0.02',
  ' DEPTH = 8',
  '',
].join('\n');

function reason(diff: string | Uint8Array, r: PatchRules = rules): string | undefined {
  try {
    checkPatch(diff, r);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ArswarmError);
    return (err as ArswarmError).reason;
  }
}

function fileDiff(path: string, body = ['@@ -1 +1 @@', '-a', '+b']): string {
  return [`diff --git a/${path} b/${path}`, `--- a/${path}`, `+++ b/${path}`, ...body, ''].join('\n');
}

describe('checkPatch', () => {
  it('accepts a plain edit of an editable file and lists it', () => {
    const p = checkPatch(good, rules);
    expect(p.files).toEqual(['train.py']);
    expect(p.addedLines).toBe(1);
    expect(p.removedLines).toBe(1);
  });

  it('accepts bytes, several files, globs and a new file', () => {
    const newFile = [
      'diff --git a/model/layers/attn.py b/model/layers/attn.py',
      'new file mode 100644',
      'index 0000000..e69de29',
      '--- /dev/null',
      '+++ b/model/layers/attn.py',
      '@@ -0,0 +1,2 @@',
      '+x = 1',
      '+y = 2',
      '',
    ].join('\n');
    const p = checkPatch(new TextEncoder().encode(good + newFile), rules);
    expect(p.files).toEqual(['train.py', 'model/layers/attn.py']);
  });

  it('accepts a plain unified diff without git headers', () => {
    const plain = ['--- a/train.py', '+++ b/train.py', '@@ -2 +2 @@', '-LR = 1', '+LR = 2', ''].join('\n');
    expect(checkPatch(plain, rules).files).toEqual(['train.py']);
  });

  it('is not fooled by a removed line that looks like a header', () => {
    const tricky = [
      'diff --git a/train.py b/train.py',
      '--- a/train.py',
      '+++ b/train.py',
      '@@ -1 +1 @@',
      '--- a/prepare.py',
      '+++ b/prepare.py',
      '',
    ].join('\n');
    expect(checkPatch(tricky, rules).files).toEqual(['train.py']);
  });

  it.each([
    ['empty', '  \n'],
    ['too_large', good + `+${'x'.repeat(5000)}\n`],
    ['locked_file', fileDiff('prepare.py')],
    ['not_editable', fileDiff('evaluate.py')],
    ['path_traversal', fileDiff('model/../prepare.py')],
    ['path_traversal', fileDiff('.git/hooks/pre-commit.py')],
    ['absolute_path', ['--- /etc/passwd', '+++ /etc/passwd', '@@ -1 +1 @@', '-a', '+b', ''].join('\n')],
    [
      'binary',
      [
        'diff --git a/train.py b/train.py',
        'index 1..2 100644',
        'Binary files a/train.py and b/train.py differ',
        '',
      ].join('\n'),
    ],
    [
      'binary',
      ['diff --git a/train.py b/train.py', 'GIT binary patch', 'literal 1', 'Kc${NkU;qFB0RR91', ''].join(
        '\n',
      ),
    ],
    [
      'rename',
      [
        'diff --git a/train.py b/model/x.py',
        'similarity index 100%',
        'rename from train.py',
        'rename to model/x.py',
        '',
      ].join('\n'),
    ],
    ['rename', ['--- a/train.py', '+++ b/model/x.py', '@@ -1 +1 @@', '-a', '+b', ''].join('\n')],
    [
      'symlink',
      [
        'diff --git a/train.py b/train.py',
        'new file mode 120000',
        '--- /dev/null',
        '+++ b/train.py',
        '@@ -0,0 +1 @@',
        '+/etc/passwd',
        '',
      ].join('\n'),
    ],
    ['symlink', ['diff --git a/train.py b/train.py', 'old mode 100644', 'new mode 120000', ''].join('\n')],
    ['protected_line', fileDiff('train.py', ['@@ -1 +1,2 @@', ' x', '+print(f"val_bpb: {0.5:.6f}")'])],
    ['protected_line', fileDiff('train.py', ['@@ -1,2 +1 @@', ' x', '-print(f"val_bpb: {v:.6f}")'])],
    ['malformed', 'hello\n' + good],
    ['malformed', fileDiff('train.py', ['@@ -1,3 +1,3 @@', ' a', '-b'])],
    ['malformed', fileDiff('train.py', ['@@ -1 +1 @@', '-a', '+b', '+c'])],
  ])('refuses %s', (want, diff) => {
    expect(reason(diff)).toBe(want);
  });

  it('refuses invalid UTF-8 bytes and lone surrogates', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode(good), 0xff, 0xfe, 0x0a]);
    expect(reason(bytes)).toBe('invalid_utf8');
    expect(reason(good.replace('0.02', '\uD800'))).toBe('invalid_utf8');
  });

  it('refuses a locked file even when the editable globs match it', () => {
    expect(reason(fileDiff('prepare.py'), { ...rules, editable: ['*.py'] })).toBe('locked_file');
  });

  it('keeps the protected line when it is only context', () => {
    const ctx = fileDiff('train.py', ['@@ -1,2 +1,2 @@', ' print(f"val_bpb: {v:.6f}")', '-a', '+b']);
    expect(checkPatch(ctx, rules).files).toEqual(['train.py']);
  });
});
