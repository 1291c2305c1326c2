import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config-load.js';
import { parseOutput } from '../../worker/output-parser.js';
import { requireExtras } from '../support/extras.js';
import { examplePath, run, TORCH_PYTHON } from './support.js';

const dir = examplePath('tinygpt');
let cacheRoot: string;

beforeAll(() => {
  requireExtras('torch');
  cacheRoot = mkdtempSync(join(tmpdir(), 'arswarm-tinygpt-cache-'));
});
afterAll(() => rmSync(cacheRoot, { recursive: true, force: true }));

/** Runs prepare.py against a cache root; returns the corpus dir and its meta.json. */
async function prepare(root: string) {
  const r = await run(TORCH_PYTHON, ['prepare.py'], { cwd: dir, env: { ARSWARM_TINYGPT_CACHE: root } });
  expect(r.code, r.stderr).toBe(0);
  const [corpus, ...rest] = readdirSync(root).filter((f) => f.startsWith('corpus-'));
  expect(rest).toEqual([]);
  const corpusDir = join(root, corpus!);
  const meta = JSON.parse(readFileSync(join(corpusDir, 'meta.json'), 'utf8')) as Record<string, number>;
  return { corpusDir, meta, stderr: r.stderr, stdout: r.stdout };
}

describe('tinygpt example', () => {
  it('has a valid CPU ladder that runs Debian python and protects its report block', () => {
    const { config, repoDir } = loadConfig(examplePath('tinygpt', 'arswarm.yaml'));
    for (const f of [...config.target.editable, ...config.target.locked]) expect(existsSync(join(repoDir, f)), f).toBe(true);
    expect(config.target.command).toBe(`${TORCH_PYTHON} train.py`);
    expect(config.stages.map((s) => [s.env.DEPTH, s.budget_seconds])).toEqual([
      ['2', 20],
      ['2', 20],
      ['4', 30],
    ]);
    const res = config.target.protected.map((p) => new RegExp(p));
    const lines = readFileSync(join(repoDir, 'train.py'), 'utf8').split('\n');
    const hit = lines.filter((l) => res.some((re) => re.test(l)));
    expect(hit.filter((l) => /print\(/.test(l))).toHaveLength(8);
    expect(hit.some((l) => l.includes('training_seconds += dt'))).toBe(true);
    expect(hit.some((l) => l.includes('evaluate_bpb(model'))).toBe(true);
    // Every protection matches a line: a rename in train.py must not leave one dangling.
    for (const re of res) expect(lines.some((l) => re.test(l)), String(re)).toBe(true);
  });

  it('generates the same corpus twice, reuses its cache, and records an exact floor', async () => {
    const first = await prepare(cacheRoot);
    expect(first.stderr).toContain('generating corpus');
    const other = mkdtempSync(join(tmpdir(), 'arswarm-tinygpt-cache-'));
    try {
      const second = await prepare(other);
      for (const f of ['train.bin', 'val.bin', 'meta.json'])
        expect(readFileSync(join(second.corpusDir, f)).equals(readFileSync(join(first.corpusDir, f))), f).toBe(true);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    const mtime = statSync(join(first.corpusDir, 'train.bin')).mtimeMs;
    const again = await prepare(cacheRoot);
    expect(again.stderr).not.toContain('generating corpus');
    expect(statSync(join(first.corpusDir, 'train.bin')).mtimeMs).toBe(mtime);

    const floor = first.meta.entropy_bits_per_byte!;
    expect(floor).toBeGreaterThan(0.3);
    expect(floor).toBeLessThan(2);
    expect(floor).toBeCloseTo(first.meta.bits_per_word! / first.meta.bytes_per_word!, 12);
    // The true source's score on the evaluated bytes is a sample of the rate: they must agree.
    expect(Math.abs(first.meta.oracle_eval_bpb! - floor)).toBeLessThan(0.02);
    expect(first.stdout).toMatch(/^entropy_bits_per_byte: \d\.\d{6}$/m);
  }, 60_000);

  it('scores a uniform model at exactly 8 bits per byte', async () => {
    const script = [
      'import torch, prepare',
      'class Uniform(torch.nn.Module):',
      '    def __init__(self):',
      '        super().__init__()',
      '        self.w = torch.nn.Parameter(torch.zeros(1))',
      '    def forward(self, idx):',
      '        return torch.zeros(*idx.shape, prepare.VOCAB_SIZE) + self.w',
      'print(f"{prepare.evaluate_bpb(Uniform()):.9f}")',
    ].join('\n');
    const r = await run(TORCH_PYTHON, ['-c', script], { cwd: dir, env: { ARSWARM_TINYGPT_CACHE: cacheRoot } });
    expect(r.code, r.stderr).toBe(0);
    expect(Number(r.stdout.trim())).toBeCloseTo(8, 5);
  }, 60_000);

  it('trains for a 3 s budget and prints a valid report above the floor', async () => {
    const { meta } = await prepare(cacheRoot);
    const r = await run(TORCH_PYTHON, ['train.py'], {
      cwd: dir,
      env: { ARSWARM_TINYGPT_CACHE: cacheRoot, TIME_BUDGET: '3', DEPTH: '2', SEED: '1', OMP_NUM_THREADS: '1', DEVICE: 'cpu' },
      timeoutMs: 110_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\rstep \d{5} \(\d+\.\d%\) \| loss: [\d.]+ \| lrm: [\d.]+ \| dt: \d+ms/);
    const { hasBlock, metrics, failLine } = parseOutput(r.stdout);
    expect(hasBlock).toBe(true);
    expect(failLine).toBe(false);
    for (const key of ['val_bpb', 'training_seconds', 'total_seconds', 'peak_vram_mb', 'num_steps', 'num_params_M', 'depth'])
      expect(Number.isFinite(metrics[key]), key).toBe(true);
    expect(metrics.depth).toBe(2);
    expect(metrics.training_seconds).toBeGreaterThanOrEqual(3);
    expect(metrics.total_seconds).toBeGreaterThan(metrics.training_seconds!);
    // Learned something (uniform is 8 bits), yet far from what the source allows.
    expect(metrics.val_bpb).toBeLessThan(8);
    expect(metrics.val_bpb).toBeGreaterThan(meta.entropy_bits_per_byte! + 0.5);
  }, 120_000);
});
