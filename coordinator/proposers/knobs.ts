/**
 * The offline `knobs` proposer: perturbs numeric UPPER_CASE module-level
 * constants of editable files — log-scale steps (x2, /2) for real numbers,
 * +-1 for integers (and x2, /2 for large ones) — never proposing a full
 * setting it has proposed before.
 */
import type { Proposal, ProposalContext, Proposer } from './proposer.js';

export interface KnobsOptions {
  /** Constants never touched. @default ['SEED'] */
  exclude?: string[];
  /** Seed of the proposer's random choices. @default 1 */
  seed?: number;
}

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

/** The neighbouring values tried for a knob. */
export function steps(k: Knob): number[] {
  if (k.isInt) {
    const out = [k.value + 1, k.value - 1];
    if (Math.abs(k.value) >= 8) out.push(k.value * 2, Math.round(k.value / 2));
    return out.filter((v) => v >= 0 || k.value < 0);
  }
  if (k.value === 0) return [0.01, 0.1];
  return [k.value * 2, k.value / 2];
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class KnobsProposer implements Proposer {
  readonly name = 'knobs';
  private readonly exclude: Set<string>;
  private readonly random: () => number;
  /** Full settings (all knob values) already proposed. */
  private readonly seen = new Set<string>();

  constructor(options: KnobsOptions = {}) {
    this.exclude = new Set(options.exclude ?? ['SEED']);
    this.random = mulberry32(options.seed ?? 1);
  }

  async propose(ctx: ProposalContext): Promise<Proposal | null> {
    const texts = new Map<string, string>();
    const knobs: Knob[] = [];
    for (const file of ctx.editable) {
      const text = await ctx.readFile(file);
      if (text === undefined) continue;
      texts.set(file, text);
      for (const k of findKnobs(file, text))
        if (!this.exclude.has(k.name) && !ctx.stageParams.has(k.name)) knobs.push(k);
    }
    const setting = (override?: { k: Knob; v: string }) =>
      knobs.map((k) => `${k.file}:${k.name}=${override && override.k === k ? override.v : k.raw}`).join(';');
    this.seen.add(setting());
    const options: { k: Knob; v: string }[] = [];
    for (const k of knobs)
      for (const v of steps(k)) {
        const o = { k, v: formatValue(v, k.isInt) };
        if (o.v !== k.raw && !this.seen.has(setting(o))) options.push(o);
      }
    if (options.length === 0) return null;
    const pick = options[Math.floor(this.random() * options.length)]!;
    this.seen.add(setting(pick));
    const { k, v } = pick;
    const lines = texts.get(k.file)!.split('\n');
    lines[k.line] = lines[k.line]!.replace(k.raw, v);
    const dir = Number(v) > k.value ? 'raise' : 'lower';
    return {
      title: `${dir} ${k.name} ${k.raw} -> ${v}`,
      hypothesis: `${k.name} may be off its optimum; ${dir === 'raise' ? 'raising' : 'lowering'} it from ${k.raw} to ${v} (${k.isInt ? 'integer step' : 'log-scale step'}) could improve the metric.`,
      changes: [{ path: k.file, content: lines.join('\n') }],
    };
  }
}
