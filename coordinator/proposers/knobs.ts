/**
 * The offline `knobs` proposer: perturbs numeric UPPER_CASE module-level
 * constants of editable files — log-scale steps for real numbers (x2 and /2,
 * then x√2 and /√2 once those are spent, then ever finer), integer steps for
 * sizes (+-1, and x2 and /2 for large ones, then +-2, +-3, ...) — one
 * constant per candidate. The rings go on (up to KNOB_RINGS) so that a head
 * whose near neighbours were all tried does not leave the swarm idle for good.
 *
 * It never proposes a full setting (every knob's value) that was evaluated
 * before, by anyone: its memory is rebuilt from the ledger's history, so a
 * restarted coordinator does not re-propose, and every option is checked
 * with the intake's rules (duplicates and near-duplicates included) before
 * it is offered.
 */
import { knobsProposerSchema } from '../../common/config.js';
import { ArswarmError } from '../../common/errors.js';
import { withDefaults } from '../../common/option-defaults.js';
import { canonicalValue, diffEffect } from './effect.js';
import type { Proposal, ProposalContext, Proposer } from './proposer.js';
import { seededRandom } from '../../common/random.js';

export interface KnobsOptions {
  /** Constants never touched. @default ['SEED'] */
  exclude?: string[];
  /** Seed of the proposer's random choices. @default 1 */
  seed?: number;
  /** Options checked with the intake per proposal before giving up at this head. @default 24 */
  maxChecks?: number;
}

/** A config section with every default filled: the source of exclude's and seed's defaults. */
const CONFIG = knobsProposerSchema.parse({ kind: 'knobs' });

/** Defaults of KnobsOptions (the same as a config's). */
export const KNOBS_DEFAULTS: Readonly<Required<KnobsOptions>> = {
  exclude: CONFIG.exclude,
  seed: CONFIG.seed,
  maxChecks: 24,
};

/** A numeric constant found in a file. */
export interface Knob {
  file: string;
  name: string;
  raw: string;
  value: number;
  isInt: boolean;
  line: number;
}

const CONSTANT =
  /^([A-Z][A-Z0-9_]*)\s*=\s*([-+]?(?:\d[\d_]*\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))\s*(#.*)?$/;

/** Numeric UPPER_CASE constants at column 0 of a Python-like file. */
export function findKnobs(file: string, text: string): Knob[] {
  const out: Knob[] = [];
  text.split('\n').forEach((line, i) => {
    const m = CONSTANT.exec(line);
    if (!m) return;
    const raw = m[2]!;
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isFinite(value)) return;
    out.push({ file, name: m[1]!, raw, value, isInt: !/[.eE]/.test(raw), line: i });
  });
  return out;
}

/** Formats a number as a Python literal of the same kind. */
export function formatValue(v: number, isInt: boolean): string {
  if (isInt) return String(Math.round(v));
  const s = Number(v.toPrecision(4)).toString();
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * The editable files with each knob rewritten to its new value (knobs of one
 * file applied together), as proposal changes.
 */
export function knobChanges(
  texts: ReadonlyMap<string, string>,
  edits: readonly { k: Knob; v: string }[],
): { path: string; content: string }[] {
  return [...new Set(edits.map((e) => e.k.file))].map((file) => {
    const lines = texts.get(file)!.split('\n');
    for (const { k, v } of edits) if (k.file === file) lines[k.line] = lines[k.line]!.replace(k.raw, v);
    return { path: file, content: lines.join('\n') };
  });
}

/** Rings of steps around a knob's value; each is offered once the ones before it are spent at a head. */
export const KNOB_RINGS = 8;

/**
 * The neighbouring values tried for a knob. Ring 0 are the coarse steps,
 * ring 1 the finer ones offered once ring 0 is spent at a head, and rings
 * 2 and up finer still (reals: a factor of 2^(1/2^ring)) or one further
 * (integers: +-(ring+1)).
 */
export function steps(k: Knob, ring = 0): number[] {
  if (k.isInt) {
    const keepSign = (v: number) => v >= 0 || k.value < 0;
    if (ring === 0) {
      const out = [k.value + 1, k.value - 1];
      if (Math.abs(k.value) >= 8) out.push(k.value * 2, Math.round(k.value / 2));
      return out.filter(keepSign);
    }
    return [k.value + ring + 1, k.value - ring - 1].filter(keepSign);
  }
  if (k.value === 0) return ring === 0 ? [0.01, 0.1] : ring === 1 ? [0.001, 0.03] : [10 ** -(ring + 2)];
  if (ring === 0) return [k.value * 2, k.value / 2];
  const f = 2 ** (1 / 2 ** ring);
  return [k.value * f, k.value / f];
}

/** The key of a full setting: every knob's canonical value. */
export function settingKey(values: ReadonlyMap<string, string>): string {
  return [...values.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
}

export class KnobsProposer implements Proposer {
  readonly name = 'knobs';
  readonly limits = { concurrency: 1 };
  private readonly exclude: Set<string>;
  private readonly random: () => number;
  private readonly maxChecks: number;
  /** Full settings already proposed or evaluated. */
  private readonly seen = new Set<string>();
  /** History entries already folded into `seen` (a prefix of the ledger's candidates). */
  private remembered = 0;
  /** The head at which every option of every ring was tried, and how many knobs it has. */
  private spent?: { head: string; knobs: number };

  constructor(options: KnobsOptions = {}) {
    const o = withDefaults(KNOBS_DEFAULTS, options);
    this.exclude = new Set(o.exclude);
    this.random = seededRandom(o.seed);
    this.maxChecks = o.maxChecks;
  }

  private eligible(ctx: ProposalContext, k: Knob): boolean {
    return !this.exclude.has(k.name) && !ctx.stageParams.has(k.name);
  }

  /** Knob values of the editable files at a commit, `file:NAME` -> canonical value. */
  private async valuesAt(ctx: ProposalContext, commit: string, files: readonly string[]) {
    const values = new Map<string, string>();
    for (const file of files) {
      const text = await ctx.readFileAt(commit, file);
      if (text === undefined) continue;
      for (const k of findKnobs(file, text))
        if (this.eligible(ctx, k)) values.set(`${file}:${k.name}`, canonicalValue(k.raw));
    }
    return values;
  }

  /** Folds every evaluated (or in-flight) idea of the ledger into `seen`. */
  private async remember(ctx: ProposalContext): Promise<void> {
    const parents = new Map<string, Map<string, string>>();
    const fresh = ctx.history(this.remembered);
    this.remembered += fresh.length;
    for (const e of fresh) {
      if (e.status === 'refused' || !e.diff) continue;
      let base = parents.get(e.parent);
      if (!base) {
        base = await this.valuesAt(ctx, e.parent, ctx.editable);
        parents.set(e.parent, base);
      }
      const values = new Map(base);
      for (const [file, effect] of diffEffect(e.diff))
        for (const c of effect.constants) {
          const i = c.indexOf('=');
          const key = `${file}:${c.slice(0, i)}`;
          if (values.has(key)) values.set(key, c.slice(i + 1));
        }
      this.seen.add(settingKey(values));
    }
  }

  /** Exhausted at a head once every setting within KNOB_RINGS steps of it has been tried. */
  exhausted(head: string): string | undefined {
    if (this.spent?.head !== head) return undefined;
    return this.spent.knobs === 0
      ? 'no numeric constant to change in the editable files'
      : `no untried setting of its ${this.spent.knobs} constants within ${KNOB_RINGS} steps`;
  }

  async propose(ctx: ProposalContext): Promise<Proposal | null> {
    await this.remember(ctx);
    const texts = new Map<string, string>();
    const knobs: Knob[] = [];
    for (const file of ctx.editable) {
      const text = await ctx.readFile(file);
      if (text === undefined) continue;
      texts.set(file, text);
      for (const k of findKnobs(file, text)) if (this.eligible(ctx, k)) knobs.push(k);
    }
    const current = new Map(knobs.map((k) => [`${k.file}:${k.name}`, canonicalValue(k.raw)]));
    const setting = (k?: Knob, v?: string) => {
      const m = new Map(current);
      if (k && v !== undefined) m.set(`${k.file}:${k.name}`, canonicalValue(v));
      return settingKey(m);
    };
    this.seen.add(setting());
    let checks = 0;
    for (let ring = 0; ring < KNOB_RINGS; ring++) {
      const options: { k: Knob; v: string }[] = [];
      for (const k of knobs)
        for (const v of steps(k, ring)) {
          const o = { k, v: formatValue(v, k.isInt) };
          if (canonicalValue(o.v) !== canonicalValue(k.raw) && !this.seen.has(setting(k, o.v)))
            options.push(o);
        }
      while (options.length > 0) {
        if (ctx.signal.aborted || checks >= this.maxChecks) return null;
        const [pick] = options.splice(Math.floor(this.random() * options.length), 1);
        const { k, v } = pick!;
        this.seen.add(setting(k, v));
        const changes = knobChanges(texts, [{ k, v }]);
        const dir = Number(v) > k.value ? 'raise' : 'lower';
        const title = `${dir} ${k.name} ${k.raw} -> ${v}`;
        checks++;
        let diff: string;
        try {
          diff = await ctx.check(changes, title);
        } catch (err) {
          // Refused (a near-duplicate of an evaluated idea, a protected line): try the next option.
          if (err instanceof ArswarmError && err.reason) continue;
          throw err;
        }
        const kind = k.isInt ? 'integer step' : 'log-scale step';
        return {
          title,
          hypothesis: `${k.name} may be off its optimum; ${dir === 'raise' ? 'raising' : 'lowering'} it from ${k.raw} to ${v} (${kind}) could improve the metric.`,
          changes,
          diff,
        };
      }
    }
    // Every ring is spent (not merely this call's checks): nothing new at this head, ever.
    this.spent = { head: ctx.head, knobs: knobs.length };
    return null;
  }
}
