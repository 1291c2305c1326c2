/**
 * The intake with its proposal pool, on a real target repo (git in a temp
 * dir) and a ledger in memory: proposeOne() never waits for a proposer,
 * proposals made before a merge are carried onto the new head (or refused as
 * stale with the reason, or dropped when they cost nothing), and budgets
 * survive a restart because they are read back from the ledger.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CandidateState } from '../../gen/arswarm/v1/candidate_pb.js';
import { loadConfig } from '../../common/config-load.js';
import type { Config } from '../../common/config.js';
import { Intake } from '../../coordinator/intake/index.js';
import { Ledger, memoryStore, type EventStore } from '../../coordinator/ledger/ledger.js';
import type { Proposal, ProposalContext, Proposer } from '../../coordinator/proposers/proposer.js';
import { TargetRepo } from '../../coordinator/repo.js';
import { until } from '../support/candidates.js';
import { ROOT } from '../support/local-swarm.js';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Sets one constant of train.py, at whatever head it is asked at; optionally slow, optionally with a cost. */
class SetConstant implements Proposer {
  readonly limits = { concurrency: 2 };
  calls = 0;
  constructor(
    readonly name: string,
    private readonly next: () => { constant: string; value: string } | null,
    private readonly o: { delayMs?: number; tokens?: number } = {},
  ) {}
  async propose(ctx: ProposalContext): Promise<Proposal | null> {
    this.calls++;
    const n = this.next();
    if (!n) return null;
    if (this.o.delayMs) await new Promise((r) => setTimeout(r, this.o.delayMs));
    const text = (await ctx.readFile('train.py'))!;
    const content = text.replace(new RegExp(`^${n.constant} = [^#\\n]*`, 'm'), `${n.constant} = ${n.value}`);
    const changes = [{ path: 'train.py', content }];
    if (this.o.tokens)
      ctx.charge({ inputTokens: this.o.tokens, outputTokens: 0, costUsd: this.o.tokens / 1e6, model: 'm' });
    return {
      title: `set ${n.constant} to ${n.value}`,
      hypothesis: 'test',
      changes,
      diff: await ctx.check(changes, `set ${n.constant} to ${n.value}`),
    };
  }
}

async function setup(proposers: Proposer[], store: EventStore = memoryStore(), edit?: (c: Config) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-intake-'));
  dirs.push(dir);
  cpSync(join(ROOT, 'examples', 'landscape'), join(dir, 'target'), {
    recursive: true,
    filter: (p) => !p.includes('.arswarm') && !p.includes('__pycache__'),
  });
  const config = structuredClone(loadConfig(join(dir, 'target', 'arswarm.yaml')).config);
  config.swarm.workers = 2;
  config.swarm.prefetch = 2;
  edit?.(config);
  const repo = await TargetRepo.open({
    sourceDir: join(dir, 'target'),
    stateDir: join(dir, 'state'),
    branch: 'arswarm/main',
    base: 'HEAD',
  });
  const ledger = await Ledger.open(
    store,
    config.stages.map((s) => s.name),
  );
  if (!ledger.state.head)
    await ledger.append({ case: 'swarmStarted', value: { branch: 'arswarm/main', head: await repo.head() } });
  const logs: string[] = [];
  const intake = new Intake(config, repo, ledger, proposers, (m) => logs.push(m), {
    pool: { pumpIntervalMs: 20, contentPauseMs: 10, failureBackoffMs: 10 },
  });
  await intake.start();
  closers.push(async () => {
    await intake.close();
    await repo.close();
  });
  return { intake, ledger, repo, logs, store };
}

/** Makes a commit on top of the head that sets a constant, and records it as merged. */
async function merge(repo: TargetRepo, ledger: Ledger, constant: string, value: string): Promise<string> {
  const head = ledger.state.head;
  const text = (await repo.readFile(head, 'train.py'))!;
  const diff = await repo.makeDiff(head, [
    {
      path: 'train.py',
      content: text.replace(new RegExp(`^${constant} = [^#\\n]*`, 'm'), `${constant} = ${value}`),
    },
  ]);
  const commit = await repo.commitPatch(head, diff, `merge ${constant}`);
  await ledger.append({ case: 'merged', value: { candidateId: 'x', commit, previousHead: head } });
  return commit;
}

describe('intake with the proposal pool', () => {
  it('answers proposeOne() at once while a slow proposer works, and records what it buffered', async () => {
    const values = ['0.002', '0.003', '0.004', '0.005'];
    const p = new SetConstant(
      'slow',
      () => ({ constant: 'LEARNING_RATE', value: values.shift() ?? '0.009' }),
      { delayMs: 400 },
    );
    const { intake, ledger } = await setup([p]);
    const t0 = performance.now();
    expect(await intake.proposeOne()).toBeNull();
    // Well under the proposer's 400 ms: it did not wait for it (the margin is for a loaded CI machine).
    expect(performance.now() - t0).toBeLessThan(300);
    await until(() => intake.pool.stats().buffered >= 2, 5000, 'two buffered proposals');
    const id = await intake.proposeOne();
    expect(id).toBe('c00001');
    const v = ledger.state.candidates.get(id!)!;
    expect(v.state).toBe(CandidateState.ACTIVE);
    expect(v.candidate.proposer).toBe('slow');
    expect(v.diff).toContain('+LEARNING_RATE = 0.002');
  });

  it('carries a paid proposal made before a merge onto the new head, refuses a conflicting one as stale, drops a free one', async () => {
    const paid = [
      { constant: 'LEARNING_RATE', value: '0.002' },
      { constant: 'DROPOUT', value: '0.05' },
    ];
    const free = [{ constant: 'BATCH_SIZE', value: '64' }];
    const a = new SetConstant('paid', () => paid.shift() ?? null, { tokens: 1000 });
    const b = new SetConstant('free', () => free.shift() ?? null);
    const { intake, ledger, repo } = await setup([a, b]);
    await until(() => intake.pool.stats().buffered >= 3, 5000, 'three buffered proposals');
    const old = ledger.state.head;
    // The head moves: DROPOUT changes (conflicts with the DROPOUT proposal), LEARNING_RATE does not.
    const head = await merge(repo, ledger, 'DROPOUT', '0.2');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await intake.proposeOne();
      if (id) ids.push(id);
    }
    const views = [...ledger.state.candidates.values()];
    const lr = views.find((v) => v.candidate.title === 'set LEARNING_RATE to 0.002')!;
    expect(lr.state).toBe(CandidateState.ACTIVE);
    expect(lr.candidate.parentCommit).toBe(head);
    const applied = await repo.commitPatch(head, lr.diff, 'check');
    const text = (await repo.readFile(applied, 'train.py'))!;
    expect(text).toMatch(/^LEARNING_RATE = 0.002$/m);
    expect(text).toMatch(/^DROPOUT = 0.2$/m);
    const dropout = views.find((v) => v.candidate.title === 'set DROPOUT to 0.05')!;
    expect(dropout.state).toBe(CandidateState.REFUSED);
    expect(dropout.refusedReason).toMatch(
      new RegExp(`made against ${old.slice(0, 7)}; the head moved to ${head.slice(0, 7)}`),
    );
    expect(dropout.candidate.usage?.costUsd).toBeCloseTo(0.001, 9);
    // The free proposal was dropped without a trace, to be made again at the new head.
    expect(views.some((v) => v.candidate.proposer === 'free')).toBe(false);
    expect(ids).toEqual([lr.candidate.id]);
  });

  it('keeps budgets over a restart: spend is read back from the ledger', async () => {
    const store = memoryStore();
    let n = 0;
    const make = () =>
      new SetConstant('claude', () => ({ constant: 'LEARNING_RATE', value: `0.00${++n}1` }), { tokens: 600 });
    const first = make();
    Object.assign(first, { limits: { concurrency: 1, tokens: 1000 } });
    const s1 = await setup([first], store);
    await until(() => s1.intake.pool.stats().buffered >= 1, 5000, 'a proposal');
    await s1.intake.proposeOne();
    await until(() => [...s1.ledger.state.candidates.values()].length >= 1, 5000, 'a candidate');
    await until(() => s1.intake.pool.spent('claude')!.tokens >= 1200, 5000, 'a second charge');
    await s1.intake.close();
    await until(() => s1.ledger.state.proposerFailures >= 1, 5000, 'the budget event');
    // A second process on the same ledger: spent 1200 of 1000 tokens, already announced.
    const again = make();
    Object.assign(again, { limits: { concurrency: 1, tokens: 1000 } });
    const failuresBefore = s1.ledger.state.proposerFailures;
    const s2 = await setup([again], store);
    await new Promise((r) => setTimeout(r, 200));
    expect(again.calls).toBe(0);
    // 600 in the recorded candidate + 600 in the proposal abandoned at shutdown.
    expect(s2.intake.pool.spent('claude')!.tokens).toBe(1200);
    expect(s2.ledger.state.proposerFailures).toBe(failuresBefore);
  });
});
