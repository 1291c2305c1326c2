import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config-load.js';
import { parseOutput } from '../../worker/output-parser.js';
import { overrideConstant } from '../../common/constant-override.js';
import { examplePath } from './support.js';

// What karpathy/autoresearch (commit 228791f) prints: one progress line
// rewritten with `\r`, then the report block (see the shared AUTORESEARCH notes).
const PROGRESS = [
  'step 00951 (99.8%) | loss: 3.201234 | lrm: 0.10 | dt: 314ms | tok/sec: 1,669,000 | mfu: 39.8% | epoch: 1 | remaining: 1s    ',
  'step 00952 (99.9%) | loss: 3.200871 | lrm: 0.10 | dt: 314ms | tok/sec: 1,669,120 | mfu: 39.8% | epoch: 1 | remaining: 0s    ',
  'step 00953 (100.0%) | loss: 3.200455 | lrm: 0.10 | dt: 314ms | tok/sec: 1,669,310 | mfu: 39.8% | epoch: 1 | remaining: 0s    ',
];
const BLOCK = `---
val_bpb:          0.997900
training_seconds: 300.1
total_seconds:    325.9
peak_vram_mb:     45060.2
mfu_percent:      39.80
total_tokens_M:   499.6
num_steps:        953
num_params_M:     50.3
depth:            8
`;
const OUTPUT = `Vocab size: 8,192\nTime budget: 300s\n${PROGRESS.map((p) => `\r${p}`).join('')}\n${BLOCK}`;

// Lines of its train.py that the protected regexes must, and must not, cover.
const MUST_PROTECT = [
  'torch.manual_seed(42)',
  'torch.cuda.manual_seed(42)',
  'from prepare import MAX_SEQ_LEN, TIME_BUDGET, Tokenizer, make_dataloader, evaluate_bpb',
  '    if step > 10:',
  '        total_training_time += dt',
  '    if step > 10 and total_training_time >= TIME_BUDGET:',
  '    val_bpb = evaluate_bpb(model, tokenizer, DEVICE_BATCH_SIZE)',
  'print("---")',
  'print(f"val_bpb:          {val_bpb:.6f}")',
  'print(f"training_seconds: {total_training_time:.1f}")',
  'print(f"total_seconds:    {t_end - t_start:.1f}")',
  'print(f"peak_vram_mb:     {peak_vram_mb:.1f}")',
  'print(f"mfu_percent:      {steady_state_mfu:.2f}")',
  'print(f"total_tokens_M:   {total_tokens / 1e6:.1f}")',
  'print(f"num_steps:        {step}")',
  'print(f"num_params_M:     {num_params / 1e6:.1f}")',
  'print(f"depth:            {DEPTH}")',
];
const MAY_CHANGE = [
  'MATRIX_LR = 0.04        # learning rate for matrix parameters (Muon)',
  'WARMDOWN_RATIO = 0.5    # fraction of time budget for LR warmdown',
  'DEPTH = 8               # number of transformer layers',
  'print(f"Time budget: {TIME_BUDGET}s")',
  '    progress = min(total_training_time / TIME_BUDGET, 1.0)',
];

describe('autoresearch example', () => {
  const { config, repoDir, path } = loadConfig(examplePath('autoresearch', 'arswarm.yaml'));

  it('validates and points at a checkout beside the arswarm repo', () => {
    expect(relative(examplePath('..', '..'), repoDir)).toBe('autoresearch');
    expect(path).toBe(examplePath('autoresearch', 'arswarm.yaml'));
    expect(config.target.command).toBe('uv run --no-sync train.py');
    expect(config.target.editable).toEqual(['train.py']);
    expect(config.target.locked).toContain('prepare.py');
    expect(config.target.metric).toEqual({ name: 'val_bpb', direction: 'minimize' });
  });

  it('injects DEPTH into train.py and TIME_BUDGET into the locked prepare.py: 300 s at DEPTH 8, 600 s at DEPTH 12', () => {
    expect(config.target.constants).toEqual({ DEPTH: 'train.py', DEVICE_BATCH_SIZE: 'train.py', TIME_BUDGET: 'prepare.py' });
    expect(config.target.locked).toContain('prepare.py');
    expect(config.stages.map((s) => [s.name, s.env.DEPTH, s.budget_seconds])).toEqual([
      ['screen', '8', 300],
      ['confirm', '8', 300],
      ['scale', '12', 600],
    ]);
    for (const s of config.stages) {
      expect(s.min_gpu_memory_mb, s.name).toBeGreaterThan(45_060);
      // program.md kills runs over 10 minutes; the top rung's 600 s slot gets 15.
      expect(s.timeout_seconds, s.name).toBeLessThanOrEqual(s.budget_seconds === 300 ? 600 : 900);
      expect(s.timeout_seconds! - s.budget_seconds, s.name).toBeGreaterThanOrEqual(120);
      // TIME_BUDGET comes from budget_seconds; every other constant from the stage env.
      for (const name of Object.keys(config.target.constants))
        if (name !== 'TIME_BUDGET') expect(s.env[name], `${s.name} ${name}`).toBeDefined();
    }
    expect(config.stages[2]!.min_gpu_memory_mb).toBeGreaterThan(config.stages[0]!.min_gpu_memory_mb);
  });

  it('prepares the uv environment once per worker, keyed by the locked pyproject.toml and uv.lock', () => {
    expect(config.target.setup).toEqual({
      command: 'uv sync --frozen',
      inputs: ['pyproject.toml', 'uv.lock'],
      env_var: 'UV_PROJECT_ENVIRONMENT',
      timeout_seconds: 1800,
    });
    for (const f of config.target.setup!.inputs) expect(config.target.locked).toContain(f);
  });

  it("rewrites prepare.py's TIME_BUDGET line for the top rung, keeping its comment", () => {
    const src = 'MAX_SEQ_LEN = 2048       # context length\nTIME_BUDGET = 300        # training time budget in seconds (5 minutes)\n';
    expect(overrideConstant(src, 'TIME_BUDGET', String(config.stages[2]!.budget_seconds))).toBe(
      'MAX_SEQ_LEN = 2048       # context length\nTIME_BUDGET = 600        # training time budget in seconds (5 minutes)\n',
    );
  });

  it("rewrites train.py's DEPTH line for a trial, keeping its comment", () => {
    const src = 'ASPECT_RATIO = 64       # model_dim = depth * ASPECT_RATIO\nDEPTH = 8               # number of transformer layers\n';
    const out = overrideConstant(src, 'DEPTH', config.stages[2]!.env.DEPTH!);
    expect(out).toBe('ASPECT_RATIO = 64       # model_dim = depth * ASPECT_RATIO\nDEPTH = 12               # number of transformer layers\n');
  });

  it('protects the seed, the timing rule, the evaluation and the report block, and nothing a knob needs', () => {
    const res = config.target.protected.map((p) => new RegExp(p));
    for (const line of MUST_PROTECT) expect(res.some((re) => re.test(line)), line).toBe(true);
    for (const line of MAY_CHANGE) expect(res.some((re) => re.test(line)), line).toBe(false);
  });

  it("parses the project's real output with the worker's parser", () => {
    const parsed = parseOutput(OUTPUT);
    expect(parsed.hasBlock).toBe(true);
    expect(parsed.failLine).toBe(false);
    expect(parsed.nonFinite).toEqual([]);
    expect(parsed.metrics).toEqual({
      val_bpb: 0.9979,
      training_seconds: 300.1,
      total_seconds: 325.9,
      peak_vram_mb: 45060.2,
      mfu_percent: 39.8,
      total_tokens_M: 499.6,
      num_steps: 953,
      num_params_M: 50.3,
      depth: 8,
    });
    expect(parsed.metrics[config.target.metric.name]).toBe(0.9979);
  });

  it('sees FAIL on a line of its own as a diverged run without a metric', () => {
    const parsed = parseOutput(`Time budget: 300s\n\r${PROGRESS[0]}\nFAIL\n`);
    expect(parsed.failLine).toBe(true);
    expect(parsed.hasBlock).toBe(false);
    expect(parsed.metrics.val_bpb).toBeUndefined();
  });

  // train.py prints FAIL right after a progress line written with end="", so
  // the real output has `...remaining: 250s    FAIL` with no newline before it.
  it('sees FAIL glued to the last progress line, as autoresearch prints it', () => {
    const parsed = parseOutput(`Time budget: 300s\n\r${PROGRESS[0]}FAIL\n`);
    expect(parsed.hasBlock).toBe(false);
    expect(parsed.failLine).toBe(true);
  });
});
