/**
 * The `optuna` proposer: a TPE or CMA-ES optimizer (Debian's python3-optuna
 * and python3-cmaes in a long-lived python3 process, client.ts) over the
 * numeric constants of the editable files (space.ts). Each proposal is one
 * ask: a full setting, written into the constants that differ from the head.
 * Each candidate is told back once its first stage has decided: its mean
 * metric there, or a failure when it crashed there. Trials of other
 * proposers are told too in hybrid mode, as the setting their diff leaves
 * the constants in.
 *
 * Nothing lives only in the process: a restarted coordinator (or optimizer
 * process) rebuilds the study from the ledger's history. It never exhausts:
 * a sampled setting that rounds to one already measured is told that value
 * and asked again, and a refused one is asked again.
 */
import { ArswarmError } from '../../../common/errors.js';
import { withDefaults } from '../../../common/option-defaults.js';
import { diffKey } from '../../ledger/state.js';
import type { HistoryEntry } from '../../journal.js';
import { canonicalValue, diffEffect } from '../effect.js';
import { findKnobs, knobChanges, settingKey, type Knob } from '../knobs.js';
import type { Proposal, ProposalContext, Proposer } from '../proposer.js';
import { OptunaClient } from './client.js';
import { OPTUNA_DEFAULTS, type ResolvedOptunaOptions } from './options.js';
import { inferSpace, literal, numeric, type Bound, type Dimension } from './space.js';

export interface OptunaOptions {
  /** Recorded as the candidates' proposer. @default optuna */
  name?: string;
  /** @default tpe */
  sampler?: 'tpe' | 'cmaes';
  /** Seed of the sampler. @default 1 */
  seed?: number;
  /** Constants never searched. @default ['SEED'] */
  exclude?: string[];
  /** Ranges by constant name, over the inferred ones. */
  bounds?: Record<string, Partial<Bound>>;
  /** Also learn from other proposers' candidates (and offer `region()` to them). @default false */
  hybrid?: boolean;
  /** The stage whose decided mean is the objective (the ladder's first). */
  objectiveStage: string;
  /** @default true */
  lowerIsBetter?: boolean;
  /** Asks per proposal before giving up for now (duplicates, refusals). @default 24 */
  maxAsks?: number;
  /** Random settings before TPE models the results. @default 10 */
  startupTrials?: number;
  /** @default /usr/bin/python3 */
  python?: string;
  /** Longest wait for one optimizer answer. @default 60000 */
  timeoutMs?: number;
  log?: (msg: string) => void;
}

/**
 * What the optimizer learns of one setting: its value; `null`, a failure (a
 * crash: optuna's FAIL, which TPE leaves out of its model); or `'pruned'`,
 * stopped mid-slot because its curve was clearly worse than the baseline's
 * (optuna's PRUNED, which TPE models as worse than every completed trial, so
 * it samples less near it: told as a failure, it would keep sampling there).
 */
export type Objective = number | null | 'pruned';

/** The wire form of an objective in tell/add/warm requests (optuna_server.py). */
export function objectiveWire(o: Objective): { value: number | null; pruned?: true } {
  return o === 'pruned' ? { value: null, pruned: true } : { value: o };
}

/** What a history entry tells the optimizer, or nothing yet (undefined). */
export function objectiveOf(e: HistoryEntry, stage: string): Objective | undefined {
  const mean = e.stageMeans?.[stage];
  if (mean !== undefined) return mean;
  if (e.stage !== stage) return undefined;
  // Stopped mid-slot there: its curve was clearly worse, and there is no full-slot value.
  if (e.stopped) return 'pruned';
  if (e.status === 'crashed') return null;
  return undefined;
}

export class OptunaProposer implements Proposer {
  readonly name: string;
  readonly limits = { concurrency: 1 };
  private readonly client: OptunaClient;
  private space?: Dimension[];
  /** Candidates already told (or never to be told). */
  private readonly told = new Set<string>();
  /** Asked trials waiting for their candidate's verdict, by diff key. */
  private readonly open = new Map<string, number>();
  /** Measured settings (setting key -> value, null for a failure, 'pruned' for a stop). */
  private readonly known = new Map<string, Objective>();
  /** Parents' constant values, memoised. */
  private readonly parents = new Map<string, Map<string, string>>();
  private bestText = '';
  private proposals = 0;
  private readonly o: ResolvedOptunaOptions;

  constructor(options: OptunaOptions) {
    this.o = { ...options, ...withDefaults(OPTUNA_DEFAULTS, options) };
    this.name = this.o.name;
    this.client = new OptunaClient({ python: this.o.python, timeoutMs: this.o.timeoutMs, log: this.o.log });
  }

  private eligible(ctx: ProposalContext, k: Knob): boolean {
    return !this.o.exclude.includes(k.name) && !ctx.stageParams.has(k.name);
  }

  private async knobsAt(ctx: ProposalContext, commit: string | undefined): Promise<Knob[]> {
    const out: Knob[] = [];
    for (const file of ctx.editable) {
      const text = commit ? await ctx.readFileAt(commit, file) : await ctx.readFile(file);
      if (text !== undefined) for (const k of findKnobs(file, text)) if (this.eligible(ctx, k)) out.push(k);
    }
    return out;
  }

  /** The setting a history entry's candidate runs: its parent's constants with its diff's changes. */
  private async settingOf(ctx: ProposalContext, e: HistoryEntry): Promise<Map<string, string>> {
    let base = this.parents.get(e.parent);
    if (!base) {
      base = new Map(
        (await this.knobsAt(ctx, e.parent)).map((k) => [`${k.file}:${k.name}`, canonicalValue(k.raw)]),
      );
      this.parents.set(e.parent, base);
    }
    const values = new Map(base);
    for (const [file, effect] of diffEffect(e.diff))
      for (const c of effect.constants) {
        const i = c.indexOf('=');
        const key = `${file}:${c.slice(0, i)}`;
        if (values.has(key)) values.set(key, canonicalValue(c.slice(i + 1)));
      }
    return values;
  }

  private relevant(e: HistoryEntry): boolean {
    return e.status !== 'refused' && !!e.diff && (this.o.hybrid || e.proposer === this.name);
  }

  /** A fresh process: infer the space (from the run's first parent, so it is the same after a restart) and replay history. */
  private async init(ctx: ProposalContext): Promise<void> {
    const history = ctx.history();
    if (!this.space) {
      const origin = history.find((e) => e.parent)?.parent;
      this.space = inferSpace(await this.knobsAt(ctx, origin ?? ctx.head), this.o.bounds);
    }
    this.told.clear();
    this.open.clear();
    const warm: ({ params: Record<string, number> } & ReturnType<typeof objectiveWire>)[] = [];
    for (const e of history) {
      const value = this.relevant(e) ? objectiveOf(e, this.o.objectiveStage) : undefined;
      if (value === undefined) continue;
      const params = numeric(await this.settingOf(ctx, e), this.space);
      this.told.add(e.id);
      if (!params) continue;
      warm.push({ params, ...objectiveWire(value) });
      this.known.set(this.keyOf(params), value);
    }
    await this.client.request('init', {
      sampler: this.o.sampler,
      seed: this.o.seed,
      direction: this.o.lowerIsBetter ? 'minimize' : 'maximize',
      startup: this.o.startupTrials,
      space: Object.fromEntries(
        this.space.map((d) => [d.key, { low: d.low, high: d.high, log: d.log, int: d.int }]),
      ),
      warm,
    });
    if (this.client.starts > 1)
      this.o.log?.(`${this.name}: optimizer restarted, rebuilt from ${warm.length} trials`);
  }

  /** Tells the optimizer every verdict that arrived since the last proposal. */
  private async sync(ctx: ProposalContext): Promise<void> {
    for (const e of ctx.history()) {
      if (this.told.has(e.id) || !this.relevant(e)) continue;
      const value = objectiveOf(e, this.o.objectiveStage);
      if (value === undefined) {
        // Refused or decided without ever being measured at the objective stage: nothing to learn.
        if (e.status !== 'in_flight') this.told.add(e.id);
        continue;
      }
      this.told.add(e.id);
      const params = numeric(await this.settingOf(ctx, e), this.space!);
      if (!params) continue;
      this.known.set(this.keyOf(params), value);
      const number = this.open.get(diffKey(e.parent, e.diff));
      if (number !== undefined) {
        this.open.delete(diffKey(e.parent, e.diff));
        await this.client.request('tell', { number, ...objectiveWire(value) });
      } else await this.client.request('add', { params, ...objectiveWire(value) });
    }
  }

  private keyOf(params: Record<string, number>): string {
    return settingKey(new Map(Object.entries(params).map(([k, v]) => [k, canonicalValue(String(v))])));
  }

  async propose(ctx: ProposalContext): Promise<Proposal | null> {
    const rebuilt = this.client.fresh;
    if (rebuilt) await this.init(ctx);
    await this.sync(ctx);
    // The best trials are read for hybrid mode's region, after a rebuild and, now and then, for a hypothesis line.
    const every = this.proposals++ % 10 === 0;
    if (this.o.hybrid || rebuilt || every) await this.refreshBest();
    const texts = new Map<string, string>();
    for (const file of ctx.editable) {
      const t = await ctx.readFile(file);
      if (t !== undefined) texts.set(file, t);
    }
    const knobs = new Map((await this.knobsAt(ctx, undefined)).map((k) => [`${k.file}:${k.name}`, k]));
    for (let asks = 0; asks < this.o.maxAsks; asks++) {
      if (ctx.signal.aborted) return null;
      const a = await this.client.request('ask');
      const number = a.number as number;
      const params = a.params as Record<string, number>;
      const values: Record<string, number> = {};
      const edits: { k: Knob; v: string }[] = [];
      for (const d of this.space!) {
        const v = literal(d, params[d.key]!);
        values[d.key] = Number(v);
        const k = knobs.get(d.key);
        if (k && canonicalValue(v) !== canonicalValue(k.raw)) edits.push({ k, v });
      }
      const seen = this.known.get(this.keyOf(values));
      if (seen !== undefined) {
        // Rounds to a measured setting: the optimizer learns its value and samples again.
        await this.client.request('tell', { number, ...objectiveWire(seen) });
        continue;
      }
      if (edits.length === 0) continue;
      const changes = knobChanges(texts, edits);
      const summary = edits.map(({ k, v }) => `${k.name} ${k.raw} -> ${v}`).join(', ');
      const title = `${this.o.sampler} #${number}: ${summary}`.slice(0, 200);
      let diff: string;
      try {
        diff = await ctx.check(changes, title);
      } catch (err) {
        // Refused (a duplicate in flight, a protected line): leave the trial open and ask again.
        if (err instanceof ArswarmError && err.reason) continue;
        throw err;
      }
      this.open.set(diffKey(ctx.head, diff), number);
      return {
        title,
        hypothesis: `The ${this.o.sampler === 'tpe' ? 'TPE' : 'CMA-ES'} optimizer's next sample over ${this.space!.length} constants, from ${this.known.size} measured settings${this.bestText ? ` (best so far: ${this.bestLine()})` : ''}.`,
        changes,
        diff,
      };
    }
    return null;
  }

  private best: { params: Record<string, number>; value: number }[] = [];

  private async refreshBest(): Promise<void> {
    const b = await this.client.request('best', { k: 5 });
    this.best = (b.trials as { params: Record<string, number>; value: number }[]) ?? [];
    this.bestText = this.best.length ? this.region() : '';
  }

  private bestLine(): string {
    const t = this.best[0]!;
    return `${t.value.toPrecision(6)} at ${this.format(t.params)}`;
  }

  private format(params: Record<string, number>): string {
    return this.space!.map((d) => `${d.name}=${literal(d, params[d.key]!)}`).join(', ');
  }

  /**
   * The optimizer's best region as text for another proposer's context:
   * the best measured settings with their first-stage values, best first.
   * Empty before anything was measured.
   */
  region(): string {
    if (!this.space || this.best.length === 0) return '';
    const lines = this.best.map((t, i) => `${i + 1}. ${t.value.toPrecision(6)}: ${this.format(t.params)}`);
    return [
      `## Optimizer's best region (${this.o.sampler}, ${this.known.size} measured settings, mean metric at ${this.o.objectiveStage})`,
      ...lines,
    ].join('\n');
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
