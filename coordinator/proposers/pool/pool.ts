/**
 * The proposal pool: proposers run in the background, outside the
 * coordinator's serial section, each up to its own concurrency, and ready
 * proposals are buffered ahead of need (at least workers x prefetch), so the
 * scheduler takes one without waiting and no GPU waits for an LLM.
 *
 * Each proposer has budgets (tokens, dollars, candidates) counted over the
 * swarm's life; a spent budget stops it with one `budget_exhausted` event
 * (budget.ts). A failed proposal is a ProposerFailed event with a code and
 * the tokens it cost, and the proposer backs off exponentially; a proposer
 * with nothing new at a head rests until the head moves (backoff.ts).
 */
import { ArswarmError, Code } from '../../../common/errors.js';
import { ledgerCode } from '../../../common/error-wire.js';
import { withDefaults } from '../../../common/option-defaults.js';
import { addCost, type LlmCost } from '../proposer.js';
import { backOff, rest, timeoutError } from './backoff.js';
import { overBudget, recordAbandoned, recordStop, stopSlot, wire } from './budget.js';
import { slotOf, type Slot } from './slot.js';
import {
  POOL_DEFAULTS,
  type PoolDeps,
  type PoolOptions,
  type PoolStats,
  type ReadyProposal,
  type ResolvedPoolOptions,
  type Spend,
} from './types.js';

export class ProposalPool {
  private readonly slots: Slot[];
  private readonly buffer: ReadyProposal[] = [];
  private readonly runs = new Set<{ ac: AbortController; done: Promise<void> }>();
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private rr = 0;
  private closed = false;
  private started?: Promise<void>;
  private loaded?: Promise<void>;
  private head = '';
  private readonly counters = { produced: 0, failures: 0, takes: 0, emptyTakes: 0, latencyMs: 0 };

  private readonly o: ResolvedPoolOptions;

  constructor(
    private readonly d: PoolDeps,
    options: PoolOptions = {},
  ) {
    this.o = withDefaults(POOL_DEFAULTS, options);
    this.now = this.o.now;
    this.slots = d.proposers.map(slotOf);
  }

  /** Loads what each proposer spent before (and stops those whose budget is spent). */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      for (const s of this.slots) {
        const prior = await this.d.priorSpend(s.p.name);
        s.spent = { tokens: prior.tokens, dollars: prior.dollars };
        const over = overBudget(s, this.d);
        if (over) {
          s.stopped = over;
          if (!prior.stopped) await recordStop(this.d, s, over);
          else this.d.log(`proposer ${s.p.name} stays stopped: budget exhausted (${over})`);
        }
      }
    })();
    return this.loaded;
  }

  /** Loads what each proposer spent before, then starts proposing in the background. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await this.load();
      if (this.closed) return;
      this.timer = setInterval(() => this.pump(), this.o.pumpIntervalMs);
      this.timer.unref();
      this.pump();
    })();
    return this.started;
  }

  /**
   * Aborts proposals in progress and waits for them to end. What paid
   * proposals (buffered or cut short) cost is recorded as `abandoned`, so
   * budgets still count it after a restart.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const r of this.runs)
      r.ac.abort(new ArswarmError(Code.Cancelled, 'pool closed', { reason: 'aborted' }));
    await Promise.all([...this.runs].map((r) => r.done));
    for (const item of this.buffer.splice(0))
      if (item.usage)
        await recordAbandoned(
          this.d,
          item.proposer,
          item.usage,
          `"${item.proposal.title}" was not used before shutdown`,
        );
    await Promise.all(this.slots.map((s) => s.p.close?.().catch(() => undefined)));
  }

  stats(): PoolStats {
    const c = this.counters;
    return {
      buffered: this.buffer.length,
      inflight: this.slots.reduce((n, s) => n + s.inflight, 0),
      produced: c.produced,
      failures: c.failures,
      takes: c.takes,
      emptyTakes: c.emptyTakes,
      meanLatencyMs: c.produced ? c.latencyMs / c.produced : 0,
    };
  }

  /** Spend of a proposer so far (including before this process). */
  spent(name: string): Spend | undefined {
    const s = this.slots.find((x) => x.p.name === name);
    return s && { ...s.spent };
  }

  /**
   * Why no proposer will offer anything more at `head`, or undefined while one
   * may: every proposer is stopped (budget) or said it is exhausted at this
   * head, and nothing is buffered or in progress. Undefined without proposers
   * (people may still submit).
   */
  exhausted(head: string): string | undefined {
    if (this.slots.length === 0 || this.buffer.length > 0) return undefined;
    const why: string[] = [];
    for (const s of this.slots) {
      if (s.inflight > 0) return undefined;
      if (s.stopped) why.push(`${s.p.name}: budget exhausted (${s.stopped})`);
      else if (s.exhausted && s.idleHead === head) why.push(`${s.p.name}: ${s.exhausted}`);
      else return undefined;
    }
    return `every proposer is exhausted or over budget (${why.join('; ')})`;
  }

  /** Takes the oldest ready proposal without waiting; null when none is ready. */
  take(): ReadyProposal | null {
    this.counters.takes++;
    const item = this.buffer.shift() ?? null;
    if (!item) this.counters.emptyTakes++;
    queueMicrotask(() => this.pump());
    return item;
  }

  /** Tells the pool the head moved (proposers that had nothing new may try again). */
  headMoved(head: string): void {
    if (head === this.head) return;
    this.head = head;
    for (const s of this.slots) if (s.idleHead !== undefined && s.idleHead !== head) s.retryAt = 0;
    this.pump();
  }

  /**
   * Runs one proposal to the end and returns it (for simulations without a
   * background: the caller waits). Null when no proposer has anything.
   */
  async proposeNow(): Promise<ReadyProposal | null> {
    await this.load();
    const ready = this.buffer.shift();
    if (ready) return ready;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.pick(true);
      if (!s) return null;
      await this.launch(s);
      const item = this.buffer.shift();
      if (item) return item;
    }
    return null;
  }

  /** Starts proposals while the buffer is below its target and proposers have room. */
  private pump(): void {
    if (this.closed || !this.started) return;
    const target = this.d.target();
    while (this.buffer.length < target) {
      const s = this.pick(false);
      if (!s) return;
      void this.launch(s);
    }
  }

  private bufferedOf(name: string): number {
    return this.buffer.filter((b) => b.proposer === name).length;
  }

  /** The next proposer with room, round robin; marks budgets spent on the way. */
  private pick(ignoreBackoff: boolean): Slot | undefined {
    const now = this.now();
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[(this.rr + i) % this.slots.length]!;
      if (s.stopped || s.inflight >= s.concurrency) continue;
      if (!ignoreBackoff && now < s.retryAt) continue;
      const over = overBudget(s, this.d);
      if (over) {
        if (s.inflight === 0) void stopSlot(this.d, s, over);
        continue;
      }
      const cap = s.p.limits?.candidates;
      if (cap && this.d.candidatesOf(s.p.name) + this.bufferedOf(s.p.name) + s.inflight >= cap) continue;
      this.rr = (this.rr + i + 1) % this.slots.length;
      return s;
    }
    return undefined;
  }

  private launch(s: Slot): Promise<void> {
    s.inflight++;
    const ac = new AbortController();
    const timeout = AbortSignal.timeout(s.timeoutMs);
    const signal = AbortSignal.any([ac.signal, timeout]);
    const run = { ac, done: Promise.resolve() };
    run.done = this.runOne(s, signal, timeout).finally(() => {
      s.inflight--;
      this.runs.delete(run);
      if (!this.closed) queueMicrotask(() => this.pump());
    });
    this.runs.add(run);
    return run.done;
  }

  private async runOne(s: Slot, signal: AbortSignal, timeout: AbortSignal): Promise<void> {
    const startedAt = this.now();
    let usage: LlmCost | undefined;
    const charge = (u: LlmCost) => {
      usage = addCost(usage, u);
      s.spent.tokens += u.inputTokens + u.outputTokens;
      s.spent.dollars += u.costUsd;
    };
    try {
      const base = await this.d.baseContext();
      const head = base.head;
      const proposal = await s.p.propose({
        ...base,
        signal,
        charge,
        withinBudget: () => overBudget(s, this.d) === undefined,
      });
      if (this.closed) return;
      if (!proposal) {
        rest(s, head, this.now(), this.o);
        return;
      }
      if (!usage && proposal.usage) charge(proposal.usage);
      const diff = proposal.diff ?? (await this.d.makeDiff(head, proposal.changes));
      const latencyMs = this.now() - startedAt;
      this.buffer.push({ proposer: s.p.name, proposal, head, diff, usage, readyAtMs: this.now(), latencyMs });
      s.failures = 0;
      s.idleHead = undefined;
      s.exhausted = undefined;
      this.counters.produced++;
      this.counters.latencyMs += latencyMs;
    } catch (err) {
      if (this.closed) {
        if (usage) await recordAbandoned(this.d, s.p.name, usage, 'cut short by shutdown');
        return;
      }
      const e = timeout.aborted ? timeoutError(s.timeoutMs) : ArswarmError.from(err);
      const w = e.toWire();
      const code = ledgerCode(w);
      this.counters.failures++;
      backOff(s, e, this.now(), this.o);
      this.d.log(`proposer ${s.p.name} failed (${code}): ${e.message}`);
      if (code === 'budget_exhausted') {
        await stopSlot(this.d, s, overBudget(s, this.d) ?? 'budget spent during a proposal', usage);
        return;
      }
      await this.d
        .record({
          case: 'proposerFailed',
          value: { proposer: s.p.name, reason: w.message, code, hint: w.hint ?? '', usage: wire(usage) },
        })
        .catch((er: unknown) =>
          this.d.log(`cannot record a failure of ${s.p.name}: ${ArswarmError.from(er).message}`),
        );
      const over = overBudget(s, this.d);
      if (over) await stopSlot(this.d, s, over);
    }
  }
}
