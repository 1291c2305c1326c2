/**
 * Bad patches a person (or a broken tool) may submit, each with the refusal
 * the coordinator must answer: gRPC code, machine-readable reason, and a
 * message naming the problem. Diffs are built against the landscape
 * example's train.py so that only the tested flaw is wrong.
 */
import { Code } from '../../common/errors.js';

export interface PatchCase {
  readonly name: string;
  /** The diff, given the parent's train.py. */
  readonly diff: (train: string) => string;
  readonly code: Code;
  /** The ArswarmError reason (also the refusal code in the ledger). */
  readonly reason: string;
  readonly message: RegExp;
}

/** Line number (1-based) and text of the first line of `train` matching `re`. */
function lineOf(train: string, re: RegExp): { n: number; text: string } {
  const lines = train.split('\n');
  const i = lines.findIndex((l) => re.test(l));
  if (i < 0) throw new Error(`no line ${re} in train.py`);
  return { n: i + 1, text: lines[i]! };
}

/** A one-line change of `path` at `n` (git's layout). */
function oneLine(path: string, n: number, minus: string, plus: string, header = true): string {
  const h = header ? `diff --git a/${path} b/${path}\n` : '';
  return `${h}--- a/${path}\n+++ b/${path}\n@@ -${n},1 +${n},1 @@\n-${minus}\n+${plus}\n`;
}

const lr = (train: string) => lineOf(train, /^LEARNING_RATE = /);
const setLr = (train: string, value: string, path = 'train.py') => {
  const l = lr(train);
  return oneLine(path, l.n, l.text, `LEARNING_RATE = ${value}`);
};

export const PATCH_CASES: readonly PatchCase[] = [
  {
    name: 'path traversal out of the work tree',
    diff: (t) => setLr(t, '0.002', '../prepare.py'),
    code: Code.InvalidArgument,
    reason: 'path_traversal',
    message: /path \.\.\/prepare\.py leaves the work tree/,
  },
  {
    name: 'path into .git (a hook)',
    diff: () => '--- a/.git/hooks/pre-commit\n+++ b/.git/hooks/pre-commit\n@@ -1,1 +1,1 @@\n-x\n+rm -rf ~\n',
    code: Code.InvalidArgument,
    reason: 'path_traversal',
    message: /\.git\/hooks\/pre-commit is inside \.git/,
  },
  {
    name: 'absolute path',
    diff: () => '--- /etc/passwd\n+++ /etc/passwd\n@@ -1,1 +1,1 @@\n-root:x:0:0\n+root::0:0\n',
    code: Code.InvalidArgument,
    reason: 'absolute_path',
    message: /absolute path \/etc\/passwd/,
  },
  {
    name: 'symlink (train.py replaced by a link)',
    diff: () =>
      'diff --git a/train.py b/train.py\nold mode 100644\nnew mode 120000\n--- a/train.py\n+++ b/train.py\n',
    code: Code.InvalidArgument,
    reason: 'symlink',
    message: /symlinks are refused/,
  },
  {
    name: 'binary patch',
    diff: () =>
      'diff --git a/train.py b/train.py\nindex 1111111..2222222 100644\nGIT binary patch\nliteral 4\nLcmZ?l\n\nliteral 0\n',
    code: Code.InvalidArgument,
    reason: 'binary',
    message: /binary patches are refused/,
  },
  {
    name: 'NUL bytes in an added line',
    diff: (t) => setLr(t, '0.002 \0\0'),
    code: Code.InvalidArgument,
    reason: 'binary',
    message: /NUL bytes/,
  },
  {
    name: 'locked file (the evaluation)',
    diff: () => '--- a/prepare.py\n+++ b/prepare.py\n@@ -1,1 +1,1 @@\n-"""\n+"""  evaluation, now kinder\n',
    code: Code.InvalidArgument,
    reason: 'locked_file',
    message: /locked file prepare\.py/,
  },
  {
    name: 'mode change of a locked file',
    diff: () => 'diff --git a/prepare.py b/prepare.py\nold mode 100644\nnew mode 100755\n',
    code: Code.InvalidArgument,
    reason: 'locked_file',
    message: /locked file prepare\.py/,
  },
  {
    name: 'mode change to a submodule',
    diff: () => 'diff --git a/train.py b/train.py\nold mode 100644\nnew mode 160000\n',
    code: Code.InvalidArgument,
    reason: 'malformed',
    message: /unsupported file mode 160000/,
  },
  {
    name: 'file that is not editable',
    diff: () =>
      'diff --git a/evil.py b/evil.py\nnew file mode 100644\n--- /dev/null\n+++ b/evil.py\n@@ -0,0 +1,1 @@\n+import os\n',
    code: Code.InvalidArgument,
    reason: 'not_editable',
    message: /evil\.py is not an editable file/,
  },
  {
    name: 'protected line changed (the metric print)',
    diff: (t) => {
      const l = lineOf(t, /print\(f"val_bpb:/);
      return oneLine('train.py', l.n, l.text, '    print(f"val_bpb:          {0.5:.6f}")');
    },
    code: Code.InvalidArgument,
    reason: 'protected_line',
    message: /protected line in train\.py: print\(f"val_bpb:/,
  },
  {
    name: 'protected line added (metric overwritten)',
    diff: (t) => {
      const l = lineOf(t, /^ {4}val_bpb = result/);
      return `--- a/train.py\n+++ b/train.py\n@@ -${l.n},1 +${l.n},2 @@\n ${l.text}\n+    val_bpb = 0.0\n`;
    },
    code: Code.InvalidArgument,
    reason: 'protected_line',
    message: /protected line in train\.py: val_bpb = 0\.0/,
  },
  {
    name: 'huge (over max_patch_bytes)',
    diff: (t) => {
      const l = lr(t);
      const pad = Array.from({ length: 2000 }, (_, i) => `+# padding ${i} ....................`).join('\n');
      return `--- a/train.py\n+++ b/train.py\n@@ -${l.n},1 +${l.n},2001 @@\n ${l.text}\n${pad}\n`;
    },
    code: Code.InvalidArgument,
    reason: 'too_large',
    message: /patch is \d+ bytes \(limit 65536\)/,
  },
  {
    name: 'rename',
    diff: () =>
      'diff --git a/train.py b/train2.py\nsimilarity index 100%\nrename from train.py\nrename to train2.py\n',
    code: Code.InvalidArgument,
    reason: 'rename',
    message: /"diff --git a\/train\.py b\/train2\.py" names two different files/,
  },
  {
    name: 'malformed hunk (longer than its header)',
    diff: (t) => {
      const l = lr(t);
      return `--- a/train.py\n+++ b/train.py\n@@ -${l.n},1 +${l.n},1 @@\n-${l.text}\n+LEARNING_RATE = 0.002\n+WARMUP_STEPS = 2\n`;
    },
    code: Code.InvalidArgument,
    reason: 'malformed',
    message: /unexpected line 6: \+WARMUP_STEPS = 2/,
  },
  {
    name: 'truncated hunk',
    diff: (t) => {
      const l = lr(t);
      return `--- a/train.py\n+++ b/train.py\n@@ -${l.n},3 +${l.n},3 @@\n-${l.text}\n+LEARNING_RATE = 0.002\n`;
    },
    code: Code.InvalidArgument,
    reason: 'malformed',
    message: /patch ends inside a hunk/,
  },
  {
    name: 'not a diff at all',
    diff: () => 'please make the model better\n',
    code: Code.InvalidArgument,
    reason: 'malformed',
    message: /unexpected line 1 before the first file header: please make/,
  },
  {
    name: 'quoted path',
    diff: () => '--- "a/train.py"\n+++ "b/train.py"\n@@ -1,1 +1,1 @@\n-x\n+y\n',
    code: Code.InvalidArgument,
    reason: 'malformed',
    message: /quoted path/,
  },
  {
    name: 'empty',
    diff: () => '',
    code: Code.InvalidArgument,
    reason: 'empty',
    message: /the diff is empty/,
  },
  {
    name: 'whitespace only',
    diff: () => '\n \n\t\n',
    code: Code.InvalidArgument,
    reason: 'empty',
    message: /the diff is empty/,
  },
];
