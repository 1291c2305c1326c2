/**
 * The optuna proposer against its real python3 process (Debian's
 * python3-optuna and python3-cmaes, which CI installs): asks and tells over
 * a toy objective, a restart that rebuilds the study from history, hybrid
 * mode on both sides, and a clear error when the interpreter is missing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../common/config-load.js';
import { ArswarmError, Code } from '../../common/errors.js';
import type { HistoryEntry } from '../../coordinator/journal.js';
import { findKnobs } from '../../coordinator/proposers/knobs.js';
import { withRegion } from '../../coordinator/proposers/optuna/hybrid.js';
import { objectiveOf, OptunaProposer } from '../../coordinator/proposers/optuna/index.js';
import { buildProposers, ClaudeProposer } from '../../coordinator/proposers/index.js';
import { inferSpace } from '../../coordinator/proposers/optuna/space.js';
import type { Proposer } from '../../coordinator/proposers/proposer.js';
import { seededRandom } from '../../common/random.js';
import { fakeContext } from '../support/proposal-context.js';

const HEAD = 'head0000000000000000000000000000000000000';
const src = ['LEARNING_RATE = 0.001', 'WIDTH = 16', 'SEED = 42', ''].join('\n');

/** A bowl with its optimum at LEARNING_RATE 0.004, WIDTH 40. */
function objective(lr: number, width: number): number {
  return (Math.log10(lr) - Math.log10(0.004)) ** 2 + ((width - 40) / 40) ** 2;
}

function valuesOf(text: string): { lr: number; width: number } {
  const k = new Map(findKnobs('train.py', text).map((x) => [x.name, x.value]));
  return { lr: k.get('LEARNING_RATE')!, width: k.get('WIDTH')! };
}

const entry = (id: string, diff: string, value: number | null, proposer = 'optuna'): HistoryEntry => ({
  id,
  title: id,
  hypothesis: '',
  proposer,
  status: value === null ? 'crashed' : 'rejected',
  stage: 'screen',
  passed: [],
  stageMeans: value === null ? {} : { screen: value },
  nearMiss: false,
  reason: '',
  parent: HEAD,
  diff,
  createdAtMs: 0,
});

const open: OptunaProposer[] = [];
function optuna(o: Partial<ConstructorParameters<typeof OptunaProposer>[0]> = {}): OptunaProposer {
  const p = new OptunaProposer({ objectiveStage: 'screen', seed: 3, startupTrials: 8, ...o });
  open.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});

/** Runs `asks` proposals, telling each its objective; returns the history and the best value. */
async function search(p: Proposer, asks: number, history: HistoryEntry[] = []) {
  const ctx = fakeContext({ files: { 'train.py': src }, history });
  let best = Infinity;
  for (let i = 0; i < asks; i++) {
    const prop = await p.propose(ctx);
    expect(prop, `proposal ${i}`).not.toBeNull();
    const { lr, width } = valuesOf(prop!.changes[0]!.content);
    const v = objective(lr, width);
    best = Math.min(best, v);
    history.push(entry(`c${history.length}`, prop!.diff!, v));
  }
  return { history, best, ctx };
}

describe('optuna proposer', () => {
  it('finds a better region than random sampling of the same space within 30 asks (TPE)', async () => {
    const { best, history } = await search(optuna(), 30);
    // Random sampling of the inferred space: LR log-uniform over [1e-4, 1e-2], WIDTH log-uniform over [4, 64].
    const random = seededRandom(3);
    let randomBest = Infinity;
    for (let i = 0; i < 30; i++) {
      const lr = 10 ** (-4 + 2 * random());
      const width = Math.round(4 * 16 ** random());
      randomBest = Math.min(randomBest, objective(lr, width));
    }
    expect(best).toBeLessThan(randomBest);
    // Its later samples concentrate near the optimum: the median of the last 10 beats the first 10's.
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const vals = history.map((e) => e.stageMeans!.screen!);
    expect(med(vals.slice(-10))).toBeLessThan(med(vals.slice(0, 10)));
    // SEED is never searched.
    const changed = history.flatMap((e) => e.diff.split('\n').filter((l) => /^[-+][A-Z]/.test(l)));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.some((l) => l.includes('SEED'))).toBe(false);
  }, 60_000);

  it('tells a candidate stopped mid-slot as pruned, which TPE steers away from (a failure it would ignore)', async () => {
    expect(objectiveOf({ ...entry('s', '', null), status: 'rejected', stopped: true }, 'screen')).toBe(
      'pruned',
    );
    expect(objectiveOf(entry('c', '', null), 'screen')).toBeNull();
    expect(objectiveOf({ ...entry('o', '', null), stage: 'confirm' }, 'screen')).toBeUndefined();
    // Every setting with WIDTH above 24 is stopped mid-slot; told as pruned
    // TPE samples there less often than told as a failure, which it leaves
    // out of its model.
    async function wide(pruned: boolean): Promise<number> {
      const p = optuna();
      const history: HistoryEntry[] = [];
      const ctx = fakeContext({ files: { 'train.py': src }, history });
      let n = 0;
      for (let i = 0; i < 40; i++) {
        const prop = await p.propose(ctx);
        const { lr, width } = valuesOf(prop!.changes[0]!.content);
        const e = entry(`c${i}`, prop!.diff!, objective(lr, width));
        if (width > 24) {
          if (i >= 20) n++;
          history.push(
            pruned
              ? { ...e, status: 'rejected', stopped: true, stageMeans: {} }
              : { ...e, status: 'crashed', stageMeans: {} },
          );
        } else history.push(e);
      }
      return n;
    }
    const asPruned = await wide(true);
    const asFailed = await wide(false);
    expect(asPruned).toBeLessThan(asFailed);
  }, 120_000);

  it('runs CMA-ES too', async () => {
    const { history } = await search(optuna({ sampler: 'cmaes' }), 12);
    expect(new Set(history.map((e) => e.diff)).size).toBe(12);
  }, 60_000);

  it('rebuilds its study from the history after a restart, failures included', async () => {
    const first = await search(optuna(), 12);
    first.history.push(entry('crash', first.history[0]!.diff.replace(/WIDTH = \d+/, 'WIDTH = 63'), null));
    const again = optuna();
    const ctx = fakeContext({ files: { 'train.py': src }, history: first.history });
    const prop = await again.propose(ctx);
    expect(prop).not.toBeNull();
    const region = again.region();
    expect(region).toContain('12 measured settings');
    const bestValue = Math.min(...first.history.slice(0, 12).map((e) => e.stageMeans!.screen!));
    expect(region).toContain(bestValue.toPrecision(6));
    // A new sample, not one of the measured settings.
    expect(first.history.map((e) => e.diff)).not.toContain(prop!.diff);
  }, 60_000);

  it('restarts a dead optimizer process and rebuilds its study from the history', async () => {
    const p = optuna();
    const { history, ctx } = await search(p, 6);
    const client = (p as unknown as { client: { proc?: { kill(sig: string): boolean }; starts: number } })
      .client;
    const dead = new Promise((resolve) => setTimeout(resolve, 200));
    client.proc!.kill('SIGKILL');
    await dead;
    const next = await p.propose(ctx);
    expect(next).not.toBeNull();
    expect(client.starts).toBe(2);
    expect(p.region()).toContain(`${history.length} measured settings`);
  }, 60_000);

  it('hybrid: learns from other proposers, and other proposers read its best region', async () => {
    const ctx = fakeContext({ files: { 'train.py': src }, history: [] });
    const llmDiff = (
      await ctx.check([{ path: 'train.py', content: src.replace('0.001', '0.004') }], 'llm')
    ).replace(/\n$/, '\n');
    const history = [entry('llm', llmDiff, 0.0123, 'claude')];
    const solo = optuna();
    await solo.propose(fakeContext({ files: { 'train.py': src }, history }));
    expect(solo.region()).toBe('');
    const hybrid = optuna({ hybrid: true });
    await hybrid.propose(fakeContext({ files: { 'train.py': src }, history }));
    expect(hybrid.region()).toContain('0.0123');
    expect(hybrid.region()).toContain('LEARNING_RATE=0.004');
    let seen = '';
    const llm = withRegion(
      {
        name: 'claude',
        propose: async (c) => {
          seen = c.journal();
          return null;
        },
      },
      hybrid,
    );
    await llm.propose(fakeContext({ files: { 'train.py': src } }));
    expect(seen).toContain('# Research journal');
    expect(seen).toContain("Optimizer's best region");
  }, 60_000);

  it('fails at start with the packages to install when the interpreter is missing', async () => {
    const p = optuna({ python: '/nonexistent/python3' });
    const err = await p.propose(fakeContext({ files: { 'train.py': src } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArswarmError);
    expect((err as ArswarmError).code).toBe(Code.FailedPrecondition);
    expect((err as ArswarmError).hint).toContain('python3-optuna');
  });
});

describe('optuna config', () => {
  const base = {
    target: { repo: '.', editable: ['train.py'], command: 'python3 train.py' },
    stages: [{ name: 'screen', budget_seconds: 60 }],
  };
  it('fills defaults', () => {
    const c = parseConfig({ ...base, proposers: [{ kind: 'optuna' }] });
    expect(c.proposers[0]).toEqual({
      kind: 'optuna',
      name: 'optuna',
      sampler: 'tpe',
      seed: 1,
      exclude: ['SEED'],
      bounds: {},
      hybrid: false,
      startup_trials: 10,
      python: '/usr/bin/python3',
    });
  });
  it('refuses a range that cannot be searched', () => {
    expect(() =>
      parseConfig({
        ...base,
        proposers: [{ kind: 'optuna', bounds: { LEARNING_RATE: { low: 0, high: 1, log: true } } }],
      }),
    ).toThrow(/log range needs low > 0/);
    expect(() => parseConfig({ ...base, proposers: [{ kind: 'optuna', sampler: 'grid' }] })).toThrow(
      /sampler/,
    );
  });
});

describe('optuna space', () => {
  it('infers log ranges for rates and sizes, and lets bounds override them', () => {
    const knobs = findKnobs('train.py', 'LEARNING_RATE = 0.001\nWIDTH = 16\nWARMUP = 0\nDROPOUT = 0.1\n');
    const space = inferSpace(knobs, { DROPOUT: { low: 0, high: 0.5 } });
    const by = Object.fromEntries(space.map((d) => [d.name, d]));
    expect(by.LEARNING_RATE).toMatchObject({ low: 0.0001, high: 0.01, log: true, int: false });
    expect(by.WIDTH).toMatchObject({ low: 4, high: 64, log: true, int: true });
    expect(by.WARMUP).toMatchObject({ low: 0, high: 8, log: false, int: true });
    // Moved to start at 0: linear, since a log range cannot include 0.
    expect(by.DROPOUT).toMatchObject({ low: 0, high: 0.5, log: false });
    expect(() => inferSpace(knobs, { WIDTH: { low: 8, high: 4 } })).toThrow(/low 8 must be below high 4/);
  });
});

describe('buildProposers with optuna', () => {
  const cfg = (hybrid: boolean) =>
    parseConfig({
      target: { repo: '.', editable: ['train.py'], command: 'python3 train.py' },
      stages: [{ name: 'screen', budget_seconds: 60 }],
      proposers: [{ kind: 'claude' }, { kind: 'optuna', hybrid }],
    });
  it("gives claude the optimizer's region only in hybrid mode", async () => {
    const deps = { env: { ANTHROPIC_API_KEY: 'offline' }, log: () => undefined };
    const solo = buildProposers(cfg(false), deps);
    const hybrid = buildProposers(cfg(true), deps);
    try {
      expect(solo.map((p) => p.name)).toEqual(['claude', 'optuna']);
      expect(solo[0]).toBeInstanceOf(ClaudeProposer);
      expect(hybrid.map((p) => p.name)).toEqual(['claude', 'optuna']);
      expect(hybrid[0]).not.toBeInstanceOf(ClaudeProposer);
      expect(hybrid[1]).toBeInstanceOf(OptunaProposer);
    } finally {
      await Promise.all([...solo, ...hybrid].map((p) => p.close?.()));
    }
  });
});
