/**
 * Noise-only candidates through the real `judge()`, stage by stage, with the
 * scheduler's replicate logic: a stage's replicates first, one more (with a
 * paired baseline run of the same seed) whenever the judge asks, until it
 * promotes or rejects. Runs follow the landscape's noise model: a part drawn
 * from the seed alone (shared by every commit run with that seed) and a part
 * of its own. Noise is pooled as the coordinator pools it (noise-pool.ts):
 * earlier candidates' first `replicates` paired residuals and same-seed
 * differences of successive heads; the head moves every `mergeEvery`
 * candidates.
 */
import { seededRandom } from '../../common/random.js';
import {
  judge,
  type NoisePrior,
  type StageRule,
  improvement,
  NO_NOISE,
  pairedSums,
  pool,
  type NoiseSums,
  type Seeded,
  seedOf,
} from '../../coordinator/index.js';

/** The noise of one run. */
export interface NoiseModel {
  /** Standard deviation of one run. */
  sigma: number;
  /** Share of the variance drawn from the seed alone (0..1). */
  seedShared: number;
}

/** Which gate decides. */
export type GateKind = 'new' | 'old';

export interface StageSimOptions {
  rule: StageRule;
  stageIndex: number;
  baselineReplicates: number;
  candidates: number;
  noise: NoiseModel;
  /** The head moves (new baseline runs) every this many candidates. */
  mergeEvery: number;
  seed: number;
  gate: GateKind;
}

export interface StageSimResult {
  passed: number;
  candidates: number;
  /** Candidate runs spent, on average. */
  meanRuns: number;
}

function gaussian(random: () => number): () => number {
  return () => {
    const u = 1 - random();
    const v = random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/**
 * The gate as it was before t quantiles: delta > max(min_delta, z·σ) with
 * the σ of `improvement()` (paired spread from 3 pairs, else the baseline's
 * spread times √(1/n + 1/n_b)), for comparison.
 */
function oldJudge(
  rule: StageRule,
  c: readonly Seeded[],
  b: readonly Seeded[],
): 'promote' | 'more' | 'reject' {
  const imp = improvement(c, b, true);
  if (imp.delta > Math.max(rule.minDelta, rule.z * imp.sigma)) return 'promote';
  if (imp.delta > 0 && c.length < rule.maxReplicates) return 'more';
  return 'reject';
}

/** Simulates `candidates` noise-only candidates entering one stage. */
export function simulateStage(o: StageSimOptions): StageSimResult {
  const random = seededRandom(o.seed);
  const normal = gaussian(random);
  const shared = Math.sqrt(o.noise.seedShared) * o.noise.sigma;
  const own = Math.sqrt(1 - o.noise.seedShared) * o.noise.sigma;
  const seedPart = new Map<number, number>();
  const seedNoise = (seed: number) => {
    let v = seedPart.get(seed);
    if (v === undefined) seedPart.set(seed, (v = shared * normal()));
    return v;
  };
  const run = (seed: number): Seeded => ({ seed, metric: 1 + seedNoise(seed) + own * normal() });
  const seeds = (n: number) => Array.from({ length: n }, (_, r) => seedOf(o.stageIndex, r));

  let candidatePool: NoiseSums = NO_NOISE;
  let headPool: NoiseSums = NO_NOISE;
  let baseline: Seeded[] = [];
  let previous: Seeded[] | undefined;
  let passed = 0;
  let runs = 0;
  for (let i = 0; i < o.candidates; i++) {
    if (i % o.mergeEvery === 0) {
      // A merge: the new head's baseline runs; the pair with the head before
      // it counts once the head after it arrives (the pool leaves the parent out).
      if (previous)
        headPool = pool(
          headPool,
          pairedSums(
            previous.filter((x) => baseline.some((b) => b.seed === x.seed)),
            baseline,
          ),
        );
      previous = baseline.length ? baseline : undefined;
      baseline = seeds(o.baselineReplicates).map(run);
    }
    const prior: NoisePrior = { paired: pool(candidatePool, headPool) };
    const cand = seeds(o.rule.replicates).map(run);
    let verdict: 'promote' | 'more' | 'reject';
    for (;;) {
      verdict = o.gate === 'old' ? oldJudge(o.rule, cand, baseline) : judgeKind(o, cand, baseline, prior);
      if (verdict !== 'more') break;
      const seed = seedOf(o.stageIndex, cand.length);
      cand.push(run(seed));
      if (!baseline.some((b) => b.seed === seed)) baseline.push(run(seed));
    }
    runs += cand.length;
    if (verdict === 'promote') passed++;
    candidatePool = pool(candidatePool, pairedSums(cand.slice(0, o.rule.replicates), baseline));
  }
  return { passed, candidates: o.candidates, meanRuns: runs / o.candidates };
}

function judgeKind(
  o: StageSimOptions,
  c: Seeded[],
  b: Seeded[],
  prior: NoisePrior,
): 'promote' | 'more' | 'reject' {
  const j = judge(o.rule, c, b, o.baselineReplicates, true, prior);
  if (j.kind === 'wait') throw new Error(`calibration: judge waits: ${j.reason}`);
  return j.kind;
}
