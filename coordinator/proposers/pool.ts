/**
 * The proposal pool: proposers run in the background, outside the
 * coordinator's serial section, each up to its own concurrency, and ready
 * proposals are buffered ahead of need (at least workers x prefetch), so the
 * scheduler takes one without waiting and no GPU waits for an LLM.
 *
 * Each proposer has budgets (tokens, dollars, candidates) counted over the
 * swarm's life; a spent budget stops it with one `budget_exhausted` event.
 * A failed proposal is a ProposerFailed event with a code and the tokens it
 * cost, and the proposer backs off exponentially; a proposer with nothing
 * new at a head rests until the head moves.
 */
import { ArswarmError, Code } from '../../common/errors.js';
import type { EventBody } from '../ledger/ledger.js';
import type { FileChange } from '../repo.js';
import { addCost, type LlmCost, type Proposal, type ProposalContext, type Proposer } from './proposer.js';

/** A proposal ready to become a candidate. */
export interface ReadyProposal {
  proposer: string;
  proposal: Proposal;
  /** The head it was made against (its diff's parent). */
  head: string;
  diff: string;
  /** What the whole attempt cost (every request of the conversation). */
  usage?: LlmCost;
  readyAtMs: number;
  latencyMs: number;
}

/** Tokens and dollars spent. */
export interface Spend {
  tokens: number;
  dollars: number;
}

/** What the ledger says a proposer spent before this process. */
export interface PriorSpend extends Spend {
  /** A budget_exhausted event was recorded already. */
  stopped: boolean;
}

/** The context parts that do not depend on the proposer. */
export type BaseContext = Omit<ProposalContext, 'charge' | 'withinBudget' | 'signal'>;

export interface PoolDeps {
  proposers: readonly Proposer[];
  /** The context at the current head. */
  baseContext(): Promise<BaseContext>;
  /** A diff of `changes` against `head`, for proposers that did not make one. */
  makeDiff(head: string, changes: FileChange[]): Promise<string>;
  /** Appends a fact, in turn with the coordinator's other state changes. */
  record(body: EventBody): Promise<void>;
  /** What each proposer spent before this process started (ledger). */
  priorSpend(name: string): Promise<PriorSpend>;
  /** Candidates recorded so far for a proposer (ledger). */
  candidatesOf(name: string): number;
  /** Ready proposals to keep buffered; 0 when none are wanted (paused, trial budget spent). */
  target(): number;
  log(msg: string): void;
}

export interface PoolOptions {
  /** How often the pool looks for work to start (backoffs ending, head moves). @default 200 */
  pumpIntervalMs?: number;
  /** First wait after a failure; doubles per consecutive failure. @default 1000 */
  failureBackoffMs?: number;
  /** Longest wait after failures. @default 120000 */
  maxBackoffMs?: number;
  /** Pause after a proposal that ended without a valid idea (refused submissions). @default 500 */
  contentPauseMs?: number;
  /** Wait after a proposer had nothing new, unless the head moves first. @default 5000 */
  idleBackoffMs?: number;
  now?: () => number;
}

/** Counters for status pages and benchmarks. */
export interface PoolStats {
  buffered: number;
  inflight: number;
  produced: number;
  failures: number;
  takes: number;
  /** take() calls that found no proposal ready. */
  emptyTakes: number;
  /** Mean time from start to a ready proposal, ms. */
  meanLatencyMs: number;
}

/** A cost as the ledger's LlmUsage takes it. */
function wire(u: LlmCost | undefined) {
  return u && { ...u, inputTokens: BigInt(u.inputTokens), outputTokens: BigInt(u.outputTokens) };
}

interface Slot {
  p: Proposer;
  concurrency: number;
  timeoutMs: number;
  inflight: number;
  spent: Spend;
  failures: number;
  retryAt: number;
  /** Head at which it last had nothing new. */
  idleHead?: string;
  /** Why it will never offer anything at `idleHead` (Proposer.exhausted), if it said so. */
  exhausted?: string;
  /** Why it stopped (budget), once stopped. */
  stopped?: string;
}

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

  constructor(
    private readonly d: PoolDeps,
    private readonly o: PoolOptions = {},
  ) {
    this.now = o.now ?? Date.now;
    this.slots = d.proposers.map((p) => ({
      p,
      concurrency: Math.max(1, p.limits?.concurrency ?? 1),
      timeoutMs: p.limits?.timeoutMs ?? 600_000,
      inflight: 0,
      spent: { tokens: 0, dollars: 0 },
      failures: 0,
      retryAt: 0,
    }));
  }

  /** Loads what each proposer spent before (and stops those whose budget is spent). */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      for (const s of this.slots) {
        const prior = await this.d.priorSpend(s.p.name);
        s.spent = { tokens: prior.tokens, dollars: prior.dollars };
        const over = this.overBudget(s);
        if (over) {
          s.stopped = over;
          if (!prior.stopped) await this.recordStop(s, over);
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
      this.timer = setInterval(() => this.pump(), this.o.pumpIntervalMs ?? 200);
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
        await this.abandoned(
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

  /** Why a proposer may spend no more, or undefined. */
  private overBudget(s: Slot): string | undefined {
    const l = s.p.limits;
    if (!l) return undefined;
    if (l.tokens && s.spent.tokens >= l.tokens) return `${s.spent.tokens} of ${l.tokens} tokens`;
    if (l.dollars && s.spent.dollars >= l.dollars)
      return `$${s.spent.dollars.toFixed(4)} of $${l.dollars.toFixed(2)}`;
    if (l.candidates && this.d.candidatesOf(s.p.name) >= l.candidates)
      return `${this.d.candidatesOf(s.p.name)} of ${l.candidates} candidates`;
    return undefined;
  }

  private async abandoned(proposer: string, usage: LlmCost, why: string): Promise<void> {
    await this.d
      .record({
        case: 'proposerFailed',
        value: { proposer, code: 'abandoned', reason: `proposal abandoned: ${why}`, usage: wire(usage) },
      })
      .catch((err: unknown) =>
        this.d.log(`cannot record what ${proposer} spent: ${ArswarmError.from(err).message}`),
      );
  }

  /** Stops a proposer for good (budget), with one event. */
  private async stop(s: Slot, why: string, usage?: LlmCost): Promise<void> {
    if (s.stopped) return;
    s.stopped = why;
    await this.recordStop(s, why, usage);
  }

  private async recordStop(s: Slot, why: string, usage?: LlmCost): Promise<void> {
    this.d.log(`proposer ${s.p.name} stopped: budget exhausted (${why})`);
    await this.d
      .record({
        case: 'proposerFailed',
        value: {
          proposer: s.p.name,
          code: 'budget_exhausted',
          reason: `budget exhausted (${why}); ${s.p.name} proposes no more`,
          usage: wire(usage),
        },
      })
      .catch((err: unknown) =>
        this.d.log(`cannot record the stop of ${s.p.name}: ${ArswarmError.from(err).message}`),
      );
  }

  /** The next proposer with room, round robin; marks budgets spent on the way. */
  private pick(ignoreBackoff: boolean): Slot | undefined {
    const now = this.now();
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[(this.rr + i) % this.slots.length]!;
      if (s.stopped || s.inflight >= s.concurrency) continue;
      if (!ignoreBackoff && now < s.retryAt) continue;
      const over = this.overBudget(s);
      if (over) {
        if (s.inflight === 0) void this.stop(s, over);
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
        withinBudget: () => this.overBudget(s) === undefined,
      });
      if (this.closed) return;
      if (!proposal) {
        s.idleHead = head;
        s.exhausted = s.p.exhausted?.(head);
        s.retryAt = this.now() + (this.o.idleBackoffMs ?? 5000);
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
        if (usage) await this.abandoned(s.p.name, usage, 'cut short by shutdown');
        return;
      }
      const e = timeout.aborted
        ? new ArswarmError(Code.DeadlineExceeded, `no proposal within ${Math.round(s.timeoutMs / 1000)} s`, {
            reason: 'timeout',
          })
        : ArswarmError.from(err);
      const code = e.reason ?? Code[e.code];
      this.counters.failures++;
      // A conversation that ended without a valid idea (Aborted) says nothing about the
      // service: pause briefly. Anything else (API down, rate limits, timeouts) backs off.
      if (e.code === Code.Aborted) s.retryAt = this.now() + (this.o.contentPauseMs ?? 500);
      else {
        s.failures++;
        s.retryAt =
          this.now() +
          Math.min(this.o.maxBackoffMs ?? 120_000, (this.o.failureBackoffMs ?? 1000) * 2 ** (s.failures - 1));
      }
      this.d.log(`proposer ${s.p.name} failed (${code}): ${e.message}`);
      if (code === 'budget_exhausted') {
        await this.stop(s, this.overBudget(s) ?? 'budget spent during a proposal', usage);
        return;
      }
      await this.d
        .record({
          case: 'proposerFailed',
          value: { proposer: s.p.name, reason: e.message, code, usage: wire(usage) },
        })
        .catch((er: unknown) =>
          this.d.log(`cannot record a failure of ${s.p.name}: ${ArswarmError.from(er).message}`),
        );
      const over = this.overBudget(s);
      if (over) await this.stop(s, over);
    }
  }
}
