import { describe, expect, it } from 'vitest';
import { ArswarmError, Code } from '../../../common/errors.js';
import { fakeContext } from '../../../test/support/proposal-context.js';
import type { EventBody } from '../../ledger/ledger.js';
import { ProposalPool, type PoolDeps, type PriorSpend } from './index.js';
import type { Proposal, ProposalContext, Proposer, ProposerLimits } from '../proposer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(done: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

/** A proposer that takes `ms`, charges `tokens` per proposal and counts what it is asked. */
class Slow implements Proposer {
  calls = 0;
  running = 0;
  maxRunning = 0;
  constructor(
    readonly name: string,
    readonly limits: ProposerLimits,
    private readonly ms: number,
    private readonly behave: (n: number, ctx: ProposalContext) => Proposal | null = (n) => ({
      title: `idea ${n}`,
      hypothesis: 'h',
      changes: [],
      diff: `diff ${n}`,
    }),
    private readonly tokens = 0,
  ) {}
  async propose(ctx: ProposalContext): Promise<Proposal | null> {
    const n = ++this.calls;
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, this.ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          reject(new ArswarmError(Code.Cancelled, 'aborted'));
        });
      });
      if (this.tokens)
        ctx.charge({ inputTokens: this.tokens, outputTokens: 0, costUsd: this.tokens / 1e6, model: 'm' });
      return this.behave(n, ctx);
    } finally {
      this.running--;
    }
  }
}

function deps(proposers: Proposer[], over: Partial<PoolDeps> & { targetN?: number } = {}) {
  const events: EventBody[] = [];
  const ctx = fakeContext({ files: { 'train.py': 'A = 1\n' } });
  const d: PoolDeps = {
    proposers,
    baseContext: async () => ctx,
    makeDiff: async () => 'diff',
    record: async (b) => void events.push(b),
    priorSpend: async (): Promise<PriorSpend> => ({ tokens: 0, dollars: 0, stopped: false }),
    candidatesOf: () => 0,
    target: () => over.targetN ?? 4,
    log: () => undefined,
    ...over,
  };
  return { d, events };
}

const opts = { pumpIntervalMs: 10, failureBackoffMs: 20, idleBackoffMs: 50 };
const fakeContextHead = () => fakeContext({ files: {} }).head;

describe('proposal pool', () => {
  it('never makes the taker wait: take() answers at once while slow proposals run in the background', async () => {
    const p = new Slow('slow', { concurrency: 3 }, 200);
    const { d } = deps([p], { targetN: 6 });
    const pool = new ProposalPool(d, opts);
    await pool.start();
    const t0 = performance.now();
    expect(pool.take()).toBeNull();
    expect(performance.now() - t0).toBeLessThan(20);
    await until(() => pool.stats().buffered >= 6 && pool.stats().inflight === 0);
    expect(p.maxRunning).toBe(3);
    // At most one round of the concurrency beyond the target.
    expect(pool.stats().buffered).toBeLessThanOrEqual(6 + 2);
    // Full: nothing more starts until proposals are taken below the target.
    const calls = p.calls;
    await sleep(300);
    expect(p.calls).toBe(calls);
    expect(pool.take()?.proposal.title).toBe('idea 1');
    while (pool.stats().buffered >= 6) pool.take();
    await until(() => p.calls > calls);
    expect(pool.stats().emptyTakes).toBe(1);
    await pool.close();
  });

  it('records a failure with its code and cost, and backs off', async () => {
    const p = new Slow(
      'bad',
      { concurrency: 1 },
      1,
      () => {
        throw new ArswarmError(Code.InvalidArgument, 'edit 1: search string not found', {
          reason: 'search_not_found',
        });
      },
      100,
    );
    const { d, events } = deps([p]);
    const pool = new ProposalPool(d, opts);
    await pool.start();
    await until(() => events.length >= 3);
    await pool.close();
    const ev = events[0]!;
    expect(ev.case).toBe('proposerFailed');
    expect(ev.value).toMatchObject({
      proposer: 'bad',
      code: 'search_not_found',
      usage: { inputTokens: 100n },
    });
    // Exponential backoff: 20, 40, 80 ms ... so few attempts in this time.
    expect(p.calls).toBeLessThan(8);
  });

  it('turns a proposal that outlives its time limit into a timeout failure', async () => {
    const p = new Slow('hangs', { concurrency: 1, timeoutMs: 50 }, 10_000);
    const { d, events } = deps([p]);
    const pool = new ProposalPool(d, opts);
    await pool.start();
    await until(() => events.length >= 1);
    await pool.close();
    expect(events[0]!.value).toMatchObject({ proposer: 'hangs', code: 'timeout' });
  });

  it('stops a proposer whose dollar budget is spent, with one event, and keeps the others going', async () => {
    const rich = new Slow('rich', { concurrency: 2, dollars: 0.0005 }, 5, undefined, 200);
    const free = new Slow('free', { concurrency: 1 }, 5);
    const { d, events } = deps([rich, free], { targetN: 3 });
    const pool = new ProposalPool(d, opts);
    await pool.start();
    for (let i = 0; i < 40; i++) {
      pool.take();
      await sleep(5);
    }
    await pool.close();
    const stops = events.filter((e) => e?.case === 'proposerFailed' && e.value?.code === 'budget_exhausted');
    expect(stops).toHaveLength(1);
    expect(stops[0]!.value).toMatchObject({ proposer: 'rich' });
    // 200 tokens at $1/MTok = $0.0002 per proposal: the third crosses $0.0005; two in flight may finish.
    expect(rich.calls).toBeGreaterThanOrEqual(3);
    expect(rich.calls).toBeLessThanOrEqual(4);
    expect(pool.spent('rich')!.dollars).toBeGreaterThanOrEqual(0.0005);
    expect(free.calls).toBeGreaterThan(5);
  });

  it('counts spend from before a restart and does not announce a stop twice', async () => {
    const p = new Slow('claude', { concurrency: 1, tokens: 1000 }, 1);
    const { d, events } = deps([p], {
      priorSpend: async () => ({ tokens: 1500, dollars: 0, stopped: true }),
    });
    const pool = new ProposalPool(d, opts);
    await pool.start();
    await sleep(50);
    await pool.close();
    expect(p.calls).toBe(0);
    expect(events).toHaveLength(0);
  });

  it('respects a candidate budget, counting proposals buffered and in flight', async () => {
    const p = new Slow('few', { concurrency: 4, candidates: 2 }, 5);
    const { d } = deps([p], { targetN: 10 });
    const pool = new ProposalPool(d, opts);
    await pool.start();
    await sleep(100);
    await pool.close();
    expect(p.calls).toBe(2);
  });

  it('lets a proposer with nothing new rest until the head moves', async () => {
    const p = new Slow('dry', { concurrency: 1 }, 1, () => null);
    const { d } = deps([p]);
    const pool = new ProposalPool(d, { ...opts, idleBackoffMs: 60_000 });
    await pool.start();
    await sleep(50);
    expect(p.calls).toBe(1);
    pool.headMoved('new-head');
    await until(() => p.calls === 2);
    await pool.close();
  });

  it('is exhausted at a head only when every proposer said so there or is over budget, with nothing buffered', async () => {
    const head = fakeContextHead();
    const dry = Object.assign(new Slow('dry', { concurrency: 1 }, 1, () => null), {
      exhausted: (h: string) => (h === head ? 'no untried setting' : undefined),
    });
    const rich = new Slow('rich', { concurrency: 1, dollars: 0.0001 }, 1, undefined, 200);
    const { d } = deps([dry, rich], { targetN: 1 });
    const pool = new ProposalPool(d, { ...opts, idleBackoffMs: 60_000 });
    expect(pool.exhausted(head)).toBeUndefined();
    await pool.start();
    // rich's one proposal is buffered and spends its budget: not exhausted while it waits to be taken.
    await until(() => pool.stats().buffered === 1 && dry.calls === 1);
    expect(pool.exhausted(head)).toBeUndefined();
    expect(pool.take()?.proposer).toBe('rich');
    await until(() => pool.exhausted(head) !== undefined);
    expect(pool.exhausted(head)).toBe(
      'every proposer is exhausted or over budget (dry: no untried setting; rich: budget exhausted ($0.0002 of $0.00))',
    );
    expect(pool.exhausted('moved-head')).toBeUndefined();
    await pool.close();
    // A proposer that only had nothing for now (no exhausted() answer) keeps a run going.
    const resting = new Slow('resting', { concurrency: 1 }, 1, () => null);
    const other = new ProposalPool(deps([resting]).d, { ...opts, idleBackoffMs: 60_000 });
    await other.start();
    await until(() => resting.calls === 1);
    await sleep(10);
    expect(other.exhausted(head)).toBeUndefined();
    await other.close();
    expect(new ProposalPool(deps([]).d, opts).exhausted(head)).toBeUndefined();
  });

  it('proposes on demand without a background (simulations)', async () => {
    const p = new Slow('sync', { concurrency: 1 }, 1);
    const { d } = deps([p], { targetN: 0 });
    const pool = new ProposalPool(d, opts);
    const item = await pool.proposeNow();
    expect(item?.proposal.title).toBe('idea 1');
    expect(item?.diff).toBe('diff 1');
    await pool.close();
  });
});
