/**
 * The optimizer's search space, inferred from the numeric UPPER_CASE
 * constants of the editable files (the knobs proposer's `findKnobs`): a
 * positive real is a rate or a scale, searched log-uniformly over a decade
 * either side; a positive integer is a size, searched over a quarter to four
 * times its value (on a log scale); zero and negative values get linear
 * ranges. The config's `bounds` override any of it per constant name.
 */
import { ArswarmError, Code } from '../../../common/errors.js';
import { canonicalValue } from '../effect.js';
import { formatValue, type Knob } from '../knobs.js';

/** One dimension's range. */
export interface Bound {
  low: number;
  high: number;
  log: boolean;
  int: boolean;
}

/** A dimension: a constant in a file with its range. */
export interface Dimension extends Bound {
  /** `file:NAME`, the key the knobs proposer uses too. */
  key: string;
  file: string;
  name: string;
}

/** The default range of a constant with this value. */
export function inferBound(k: Pick<Knob, 'value' | 'isInt'>): Bound {
  const v = k.value;
  if (k.isInt) {
    if (v >= 1)
      return { low: Math.max(1, Math.floor(v / 4)), high: Math.max(v * 4, 4), log: true, int: true };
    if (v === 0) return { low: 0, high: 8, log: false, int: true };
    return { low: v * 4, high: -v * 4, log: false, int: true };
  }
  if (v > 0) return { low: v / 10, high: v * 10, log: true, int: false };
  if (v === 0) return { low: 0, high: 1, log: false, int: false };
  return { low: v * 10, high: -v * 10, log: false, int: false };
}

/**
 * The space of the given knobs, overrides applied (by constant name).
 * Throws InvalidArgument naming `field` for a range that cannot be searched.
 */
export function inferSpace(
  knobs: readonly Knob[],
  overrides: Readonly<Record<string, Partial<Bound>>> = {},
  field = 'bounds',
): Dimension[] {
  const out: Dimension[] = [];
  for (const k of knobs) {
    const inferred = inferBound(k);
    const o = overrides[k.name] ?? {};
    // A range moved to start at 0 (or below) cannot stay log-scaled unless the config says so.
    const b = { ...inferred, ...o, log: o.log ?? (inferred.log && (o.low ?? inferred.low) > 0) };
    const where = `${field}.${k.name}`;
    if (!(b.low < b.high))
      throw new ArswarmError(Code.InvalidArgument, `${where}: low ${b.low} must be below high ${b.high}`, {
        field: where,
        reason: 'invalid_config',
      });
    if (b.log && b.low <= 0)
      throw new ArswarmError(Code.InvalidArgument, `${where}: a log range needs low > 0 (low is ${b.low})`, {
        field: where,
        reason: 'invalid_config',
      });
    if (b.int && (!Number.isInteger(b.low) || !Number.isInteger(b.high)))
      throw new ArswarmError(Code.InvalidArgument, `${where}: an integer range needs integer bounds`, {
        field: where,
        reason: 'invalid_config',
      });
    out.push({ ...b, key: `${k.file}:${k.name}`, file: k.file, name: k.name });
  }
  return out;
}

/** The Python literal of a sampled value, rounded as the knobs proposer writes constants. */
export function literal(d: Dimension, v: number): string {
  const x = Math.min(d.high, Math.max(d.low, v));
  return formatValue(d.int ? Math.round(x) : x, d.int);
}

/** A setting's values as numbers for the optimizer (canonical literals parsed). */
export function numeric(
  values: ReadonlyMap<string, string>,
  space: readonly Dimension[],
): Record<string, number> | undefined {
  const out: Record<string, number> = {};
  for (const d of space) {
    const raw = values.get(d.key);
    if (raw === undefined) return undefined;
    const v = Number(canonicalValue(raw).replace(/_/g, ''));
    if (!Number.isFinite(v)) return undefined;
    out[d.key] = v;
  }
  return out;
}
