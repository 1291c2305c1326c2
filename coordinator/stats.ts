/** The noise model: means, spreads and the standard error of an improvement. */

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Sample standard deviation (n - 1); 0 for fewer than two values. */
export function stddev(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** A measurement keyed by seed. */
export interface Seeded {
  seed: number;
  metric: number;
}

export interface Improvement {
  /** Mean improvement, positive = better whatever the metric's direction. */
  delta: number;
  /** Standard error of delta. */
  sigma: number;
  n: number;
  /** Number of candidate runs matched to a baseline run of the same seed. */
  paired: number;
  candidateMean: number;
  baselineMean: number;
  baselineSigma: number;
}

/** Pairs needed before the paired spread is trusted over the baseline's. */
export const MIN_PAIRS_FOR_PAIRED_SIGMA = 3;

/**
 * Improvement of a candidate over a baseline. Runs are paired by seed when the
 * baseline has that seed (cancelling seed noise); the standard error comes
 * from the paired differences once there are enough of them, otherwise from
 * the baseline's own spread: sigma_b * sqrt(1/n + 1/n_b).
 */
export function improvement(
  candidate: readonly Seeded[],
  baseline: readonly Seeded[],
  lowerIsBetter: boolean,
): Improvement {
  const sign = lowerIsBetter ? 1 : -1;
  const base = baseline.map((b) => b.metric);
  const baselineMean = mean(base);
  const baselineSigma = stddev(base);
  const bySeed = new Map<number, number[]>();
  for (const b of baseline) bySeed.set(b.seed, [...(bySeed.get(b.seed) ?? []), b.metric]);
  const diffs: number[] = [];
  let paired = 0;
  for (const c of candidate) {
    const same = bySeed.get(c.seed);
    const ref = same ? mean(same) : baselineMean;
    if (same) paired++;
    diffs.push(sign * (ref - c.metric));
  }
  const n = candidate.length;
  const unpaired = baselineSigma * Math.sqrt(1 / Math.max(n, 1) + 1 / Math.max(base.length, 1));
  const sigma =
    paired >= MIN_PAIRS_FOR_PAIRED_SIGMA && paired === n ? stddev(diffs) / Math.sqrt(n) : unpaired;
  return {
    delta: mean(diffs),
    sigma,
    n,
    paired,
    candidateMean: mean(candidate.map((c) => c.metric)),
    baselineMean,
    baselineSigma,
  };
}

/** A variance estimate kept as its parts so estimates pool: sum of squared residuals and degrees of freedom. */
export interface NoiseSums {
  ss: number;
  df: number;
}

/** The empty estimate. */
export const NO_NOISE: NoiseSums = { ss: 0, df: 0 };

/** Adds variance estimates (pooled variance = Σss / Σdf). */
export function pool(...parts: readonly NoiseSums[]): NoiseSums {
  let ss = 0;
  let df = 0;
  for (const p of parts) {
    ss += p.ss;
    df += p.df;
  }
  return { ss, df };
}

/** Residual sum of squares of values around their own mean, with n − 1 degrees of freedom. */
export function sumsOf(xs: readonly number[]): NoiseSums {
  if (xs.length < 2) return NO_NOISE;
  const m = mean(xs);
  return { ss: xs.reduce((a, x) => a + (x - m) ** 2, 0), df: xs.length - 1 };
}

/**
 * The spread of paired differences (candidate run minus the baseline run of
 * the same seed) around their mean: an estimate of the variance of one paired
 * difference whatever the change's true effect. Empty unless every candidate
 * run has a pair and there are at least two.
 */
export function pairedSums(candidate: readonly Seeded[], baseline: readonly Seeded[]): NoiseSums {
  const bySeed = new Map<number, number[]>();
  for (const b of baseline) bySeed.set(b.seed, [...(bySeed.get(b.seed) ?? []), b.metric]);
  const diffs: number[] = [];
  for (const c of candidate) {
    const same = bySeed.get(c.seed);
    if (!same) return NO_NOISE;
    diffs.push(c.metric - mean(same));
  }
  return sumsOf(diffs);
}
