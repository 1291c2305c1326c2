import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ArswarmError, Code } from '../errors.js';
import type { IntegrityRules } from './rules.js';
import { SemanticChecker } from './semantic-check.js';

const rules: IntegrityRules = {
  semantic: true,
  lockedFiles: ['prepare.py', 'pyproject.toml'],
  evalFunctions: ['evaluate_bpb', 'evaluate'],
  lockedNames: [],
  reportKeys: ['val_bpb', 'training_seconds'],
  frozen: [],
};

// Shaped like karpathy/autoresearch's train.py: the locked import, the loop, the evaluation, the report.
const HEAD = [
  'import os, sys, time',
  'from prepare import MAX_SEQ_LEN, TIME_BUDGET, Tokenizer, make_dataloader, evaluate_bpb',
  'import prepare',
  '',
  'DEPTH = 8',
  'LEARNING_RATE = 0.04',
  '',
].join('\n');
const TAIL = [
  'tokenizer = Tokenizer.from_directory()',
  'total_training_time = 0.0',
  'while total_training_time < TIME_BUDGET:',
  '    total_training_time += 1.0',
  'val_bpb = evaluate_bpb(model, tokenizer, DEVICE_BATCH_SIZE)',
  'print("---")',
  'print(f"val_bpb:          {val_bpb:.6f}")',
  'print(f"training_seconds: {total_training_time:.1f}")',
  '',
].join('\n');
const BASE = HEAD + TAIL;

const checker = new SemanticChecker();
afterAll(() => checker.close());

/** Rules broken when `added` is inserted before the loop (or the whole file replaced). */
async function broken(added: string, opts: { whole?: string; r?: IntegrityRules } = {}): Promise<string[]> {
  const after = opts.whole ?? HEAD + added + '\n' + TAIL;
  const found = await checker.violations([{ path: 'train.py', before: BASE, after }], opts.r ?? rules);
  return found.map((v) => v.rule);
}

describe('semantic check: names and modules from locked files', () => {
  it.each([
    ['TIME_BUDGET = 600', 'assign'],
    ['TIME_BUDGET += 300', 'augassign'],
    ['TIME_BUDGET: int = 600', 'annotated'],
    ['def f():\n    global TIME_BUDGET\n    TIME_BUDGET = 600\nf()', 'global then assign'],
    ['for TIME_BUDGET in (600,):\n    pass', 'for target'],
    ['with open("x") as TIME_BUDGET:\n    pass', 'with-as'],
    ['if (TIME_BUDGET := 600):\n    pass', 'walrus'],
    ['def evaluate_bpb(*a):\n    return 0.5', 'def of the same name'],
    ['class Tokenizer:\n    pass', 'class of the same name'],
    ['del TIME_BUDGET', 'del'],
    ['from os import sep as TIME_BUDGET', 'import-as shadowing'],
    ['import numpy as prepare', 'module alias shadowing'],
    ['def train(TIME_BUDGET=600):\n    pass', 'parameter'],
    ['try:\n    pass\nexcept Exception as evaluate_bpb:\n    pass', 'except-as'],
    ['xs = [1 for TIME_BUDGET in range(2)]', 'comprehension target'],
  ])('%s (%s) is locked-name-assign', async (code) => {
    expect(await broken(code)).toContain('locked-name-assign');
  });

  it.each([
    'prepare.TIME_BUDGET = 600',
    'import prepare as p\np.TIME_BUDGET = 600',
    'setattr(prepare, "TIME_BUDGET", 600)',
    'delattr(prepare, "evaluate_bpb")',
    'evaluate_bpb.__code__ = (lambda *a: 0.5).__code__',
    'evaluate_bpb.__globals__["TIME_BUDGET"] = 1',
    'prepare.__dict__["TIME_BUDGET"] = 600',
    'vars(prepare)["TIME_BUDGET"] = 600',
    'sys.modules["prepare"].TIME_BUDGET = 600',
    'sys.modules.pop("prepare")',
    'import importlib\nimportlib.reload(prepare)',
    'import importlib\nimportlib.import_module("prepare").TIME_BUDGET = 1',
    'Tokenizer.encode = lambda self, s: s',
    'prepare.CACHE.clear()',
    'from prepare import *',
    'sys.path.insert(0, "/tmp/evil")',
    'sys.meta_path.insert(0, object())',
    'getattr(prepare, "__dict__")',
    'ev = prepare.evaluate_bpb\nev.__code__ = None',
  ])('%s is locked-module-mutation', async (code) => {
    expect(await broken(code)).toContain('locked-module-mutation');
  });

  it.each([
    'import builtins\nbuiltins.print = lambda *a, **k: None',
    'import builtins as b\nsetattr(b, "float", int)',
    '__builtins__.float = int',
    'def print(*args, **kwargs):\n    pass',
    'float = lambda x: 0.5',
    'from functools import partial as print',
  ])('%s is builtin-override', async (code) => {
    expect(await broken(code)).toContain('builtin-override');
  });
});

describe('semantic check: the evaluation and what runs after it', () => {
  const report = (lines: string[]) =>
    HEAD + TAIL.replace('print("---")', [...lines, 'print("---")'].join('\n'));

  it.each([
    ['val_bpb *= 0.99'],
    ['val_bpb = val_bpb - 0.01'],
    ['val_bpb -= 0.01'],
    ['del val_bpb\nval_bpb = 0.5'],
    ['val_bpb = min(val_bpb, 0.9)'],
  ])('%s after the evaluation is eval-result-mutation', async (code) => {
    expect(await broken('', { whole: report([code]) })).toContain('eval-result-mutation');
  });

  it('arithmetic on the call itself, a result dict and a value read out of a result are eval-result-mutation', async () => {
    const direct = BASE.replace(
      'val_bpb = evaluate_bpb(model, tokenizer, DEVICE_BATCH_SIZE)',
      'val_bpb = evaluate_bpb(model, tokenizer, DEVICE_BATCH_SIZE) * 0.99',
    );
    expect(await broken('', { whole: direct })).toContain('eval-result-mutation');
    const dict = `${HEAD}results = {"val_bpb": evaluate_bpb(m, t, 1)}\nresults["val_bpb"] = 0.5\n`;
    expect(await broken('', { whole: dict })).toEqual(['eval-result-mutation']);
    const derived = `${HEAD}def main():\n    result = evaluate_bpb(m)\n    val_bpb = result["val_bpb"]\n    val_bpb -= 0.1\n`;
    expect(await broken('', { whole: derived })).toEqual(['eval-result-mutation']);
    const aliased = `${HEAD}ev = prepare.evaluate_bpb\nval_bpb = ev(m)\nval_bpb -= 0.1\nev = None\n`;
    expect(await broken('', { whole: aliased })).toEqual(['eval-result-mutation', 'locked-name-assign']);
    const method = `${HEAD}results = evaluate_bpb(m)\nresults.update(val_bpb=0.5)\n`;
    expect(await broken('', { whole: method })).toEqual(['eval-result-mutation']);
  });

  it.each([
    ['import atexit\natexit.register(lambda: print("val_bpb: 0.5"))', 'exit-hook'],
    ['import atexit\n@atexit.register\ndef later():\n    pass', 'exit-hook'],
    ['sys.excepthook = lambda *a: None', 'exit-hook'],
    ['import signal\nsignal.signal(signal.SIGTERM, lambda *a: None)', 'exit-hook'],
    ['class Late:\n    def __del__(self):\n        pass', 'exit-hook'],
    ['sys.stdout = open(os.devnull, "w")', 'output-redirect'],
    ['import contextlib\ncontextlib.redirect_stdout(None)', 'output-redirect'],
    ['os.dup2(3, 1)', 'output-redirect'],
    ['import threading\nthreading.Thread(target=print).start()', 'background-task'],
    ['import subprocess\nsubprocess.Popen(["echo", "x"])', 'background-task'],
    ['os.system("echo x")', 'background-task'],
    ['os._exit(0)', 'early-exit'],
    ['sys.exit()', 'early-exit'],
    ['raise SystemExit(0)', 'early-exit'],
    ['print("---\\nval_bpb: 0.5")', 'result-block-print'],
    ['print(f"val_bpb: {0.5}")', 'result-block-print'],
    ['exec("TIME" + "_BUDGET = 600")', 'dynamic-code'],
    ['eval("1")', 'dynamic-code'],
    ['globals()["TIME_BUDGET"] = 600', 'dynamic-code'],
    ['globals().update(TIME_BUDGET=600)', 'dynamic-code'],
    ['__import__("prep" + "are")', 'dynamic-code'],
    ['sys._getframe(0).f_globals', 'dynamic-code'],
    ['import ctypes', 'dynamic-code'],
    ['os.write(1, b"---\\nval_bpb: 0.5\\n")', 'result-block-print'],
    ['import torch.nn.functional as F\nF.cross_entropy = lambda *a, **k: 0.0', 'library-monkeypatch'],
    ['import math\ndef fake_log(x):\n    return 0.0\nmath.log = fake_log', 'library-monkeypatch'],
    ['import math\nsetattr(math, "log", lambda x: 0.0)', 'library-monkeypatch'],
    ['os.environ["TIME_BUDGET"] = "600"', 'locked-name-assign'],
    ['os.environ.update(TIME_BUDGET="600")', 'locked-name-assign'],
    ['open("prepare.py", "w").write("TIME_BUDGET = 600")', 'locked-file-access'],
    ['import shutil\nshutil.copy("/tmp/x.py", "./prepare.py")', 'locked-file-access'],
  ])('%s is %s', async (code, rule) => {
    expect(await broken(code)).toContain(rule);
  });
});

describe('semantic check: benign edits and the unpatched file', () => {
  it.each([
    ['LEARNING_RATE = 0.02', 'a changed rate'],
    ['N_LAYERS = DEPTH + 1\nx = TIME_BUDGET * 0.5\ny = prepare.MAX_SEQ_LEN', 'reads of locked names'],
    [
      'class Block:\n    def __init__(self):\n        self.scale = 1.0\n    def forward(self, x):\n        return x * self.scale',
      'a new layer',
    ],
    ['def lr(step, total):\n    return LEARNING_RATE * min(1.0, step / 100)', 'a schedule'],
    ['model.eval()\nmodel = torch.compile(model)', 'torch.compile and model.eval'],
    ['if loss > 100:\n    print("FAIL")\n    sys.exit(1)', 'a failing exit'],
    ['print(evaluate_bpb.__name__)', 'a harmless dunder'],
    ['tok = Tokenizer.from_directory()\ntok.cache = {}', 'state on an instance'],
    ['import torch\ntorch.backends.cudnn.benchmark = True', 'a library flag'],
    ['os.environ["TOKENIZERS_PARALLELISM"] = "false"', 'an unrelated environment variable'],
  ])('%s (%s) passes', async (code) => {
    expect(await broken(code)).toEqual([]);
  });

  it('a float() of the evaluation is still the evaluation', async () => {
    const f = BASE.replace('val_bpb = evaluate_bpb(', 'val_bpb = float(evaluate_bpb(').replace(
      'DEVICE_BATCH_SIZE)',
      'DEVICE_BATCH_SIZE))',
    );
    expect(await broken('', { whole: f })).toEqual([]);
  });

  it('does not blame a patch for what the unpatched file already does', async () => {
    const before = `${BASE}import subprocess\nsubprocess.run(["nvidia-smi"])\n`;
    const after = before.replace('LEARNING_RATE = 0.04', 'LEARNING_RATE = 0.05');
    expect(await checker.violations([{ path: 'train.py', before, after }], rules)).toEqual([]);
    // ... but a second copy of it is the patch's.
    const twice = `${after}subprocess.run(["nvidia-smi"])\n`;
    expect(
      (await checker.violations([{ path: 'train.py', before, after: twice }], rules)).map((v) => v.rule),
    ).toEqual(['background-task']);
  });

  it('the bundled examples pass unchanged and with a changed constant', async () => {
    for (const [file, from, to] of [
      ['examples/landscape/train.py', 'LEARNING_RATE = 0.001', 'LEARNING_RATE = 0.002'],
      ['examples/tinygpt/train.py', 'N_EMBD = 64', 'N_EMBD = 96'],
    ] as const) {
      const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
      expect(text).toContain(from);
      const after = text.replace(from, to);
      expect(await checker.violations([{ path: 'train.py', before: text, after }], rules)).toEqual([]);
    }
  });
});

describe('semantic check: refusals and a missing checker', () => {
  it('throws InvalidArgument naming file, line and rule, with the rule as reason', async () => {
    const after = HEAD + 'TIME_BUDGET = 600\n' + TAIL;
    const err = await checker
      .check([{ path: 'train.py', before: BASE, after }], rules)
      .catch((e: unknown) => e as ArswarmError);
    expect(err).toBeInstanceOf(ArswarmError);
    expect(err!.code).toBe(Code.InvalidArgument);
    expect(err!.reason).toBe('locked-name-assign');
    expect(err!.field).toBe('train.py');
    expect(err!.message).toBe(
      'train.py:7: rule locked-name-assign: assignment to TIME_BUDGET imported from locked prepare.py',
    );
  });

  it('a file that does not parse is syntax-error', async () => {
    expect(await broken('x = (')).toEqual(['syntax-error']);
  });

  it('frozen regions are checked without python, and semantic: false skips the ast rules', async () => {
    const r: IntegrityRules = {
      ...rules,
      semantic: false,
      frozen: [{ file: 'train.py', from: '^val_bpb = evaluate_bpb\\(' }],
    };
    const c = new SemanticChecker({ python: 'no-such-python-3' });
    const after = `${BASE}print("val_bpb: 0.5")\n`;
    expect((await c.violations([{ path: 'train.py', before: BASE, after }], r)).map((v) => v.rule)).toEqual([
      'frozen-region',
    ]);
    expect(
      await c.violations([{ path: 'train.py', before: BASE, after: HEAD + 'TIME_BUDGET = 1\n' + TAIL }], r),
    ).toEqual([]);
    c.close();
  });

  it('fails closed when python3 is missing: FailedPrecondition, not a pass', async () => {
    const c = new SemanticChecker({ python: 'no-such-python-3' });
    const err = await c
      .check([{ path: 'train.py', before: BASE, after: BASE.replace('0.04', '0.05') }], rules)
      .catch((e: unknown) => e as ArswarmError);
    expect(err).toBeInstanceOf(ArswarmError);
    expect(err!.code).toBe(Code.FailedPrecondition);
    expect(err!.retryable).toBe(true);
    expect(err!.reason).toBe('checker_unavailable');
    expect(err!.message).toMatch(/no-such-python-3 not found/);
    c.close();
  });

  it('answers many checks concurrently from one process', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        checker
          .violations(
            [
              {
                path: 'train.py',
                before: BASE,
                after: HEAD + (i % 2 ? `X = ${i}\n` : `TIME_BUDGET = ${i}\n`) + TAIL,
              },
            ],
            rules,
          )
          .then((v) => v.map((x) => x.rule).join(',')),
      ),
    );
    expect(results.filter((r) => r === 'locked-name-assign')).toHaveLength(5);
    expect(results.filter((r) => r === '')).toHaveLength(5);
  });
});
