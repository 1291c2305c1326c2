/**
 * Noise measured across the run, pooled per stage and GPU class, so a
 * judgement's σ rests on more degrees of freedom than its own handful of
 * runs: the same-seed differences between successive heads and the residuals
 * of other candidates' paired differences (a candidate's true effect is the
 * same for every seed, so the spread of its paired differences around their
 * mean is noise whatever the change). Earlier heads' baseline spreads are not
 * pooled: every head runs the same seeds, so the part of the noise a seed
 * carries is the same few draws at every head and would add no real degrees
 * of freedom; differences cancel it.
 *
 * Only runs whose number was fixed before any result was seen are pooled
 * (a stage's first `replicates`): extra replicates are asked for because the
 * first results looked a certain way, and their spread would be biased.
 */
import { VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import type { LedgerState, Sample } from './ledger/state.js';
import type { NoisePrior } from './stage-verdict.js';
import { NO_NOISE, pairedSums, pool, type NoiseSums, type Seeded } from './stats.js';

/** Candidate results folded in before the pooled candidate residuals are recomputed. @default 16 */
export const POOL_REFRESH_RESULTS = 16;

/**
 * A stage's configured replicates by name, 1 for a name the ladder lacks: the
 * scheduler and the verdict audit read replicates the same way, so the audit
 * redoes the scheduler's arithmetic.
 */
export function replicatesByName(
  stages: readonly { readonly name: string; readonly replicates: number }[],
): (stage: string) => number {
  return (name) => stages.find((s) => s.name === name)?.replicates ?? 1;
}

export class NoisePool {
  private candidateSums = new Map<string, NoiseSums>();
  private atFinished = -Infinity;

  /**
   * @param state the ledger's state (read at every call)
   * @param replicatesOf a stage's configured replicates (the runs fixed in advance)
   */
  constructor(
    private readonly state: () => LedgerState,
    private readonly replicatesOf: (stage: string) => number,
  ) {}

  /**
   * The noise evidence outside one judgement of a candidate against `parent`
   * at a stage and class: `parent`'s own baseline runs are left out (the
   * judgement counts them itself).
   */
  prior(stage: string, gpuClass: string, parent: string): NoisePrior {
    const s = this.state();
    const heads = [...new Set(s.heads)].filter(Boolean);
    const paired: NoiseSums[] = [this.candidates(s).get(`${stage}|${gpuClass}`) ?? NO_NOISE];
    let previous: Sample[] | undefined;
    let previousHead = '';
    for (const h of heads) {
      const base = s.baseline(h, stage, gpuClass);
      if (previous && h !== parent && previousHead !== parent) paired.push(headPairs(base, previous));
      previous = base;
      previousHead = h;
    }
    return { paired: pool(...paired) };
  }

  /** Residual sums of decided candidates' paired differences per `stage|class`, refreshed every few results. */
  private candidates(s: LedgerState): Map<string, NoiseSums> {
    if (s.finished < this.atFinished + Math.max(POOL_REFRESH_RESULTS, this.atFinished * 0.02))
      return this.candidateSums;
    this.atFinished = s.finished;
    const sums = new Map<string, NoiseSums>();
    for (const v of s.candidates.values())
      for (const verdict of v.verdicts) {
        if (verdict.kind !== VerdictKind.PROMOTE && verdict.kind !== VerdictKind.REJECT) continue;
        if (verdict.trialIds.length < 2) continue;
        const runs: { replicate: number; sample: Seeded; parent: string }[] = [];
        for (const id of verdict.trialIds) {
          const t = s.trials.get(id);
          if (t?.result?.status !== TrialStatus.OK) continue;
          runs.push({
            replicate: t.trial.replicate,
            sample: { seed: t.trial.seed, metric: t.result.metric },
            parent: t.trial.parentCommit,
          });
        }
        const replicates = this.replicatesOf(verdict.stage);
        const first = runs.filter((r) => r.replicate < replicates);
        if (first.length < 2 || first.some((r) => r.parent !== first[0]!.parent)) continue;
        const base = s.baseline(first[0]!.parent, verdict.stage, verdict.gpuClass);
        const key = `${verdict.stage}|${verdict.gpuClass}`;
        sums.set(
          key,
          pool(
            sums.get(key) ?? NO_NOISE,
            pairedSums(
              first.map((r) => r.sample),
              base,
            ),
          ),
        );
      }
    this.candidateSums = sums;
    return sums;
  }
}

/** Residuals of the same-seed differences between two heads' baseline runs. */
function headPairs(a: readonly Sample[], b: readonly Sample[]): NoiseSums {
  const seeds = new Set(b.map((x) => x.seed));
  return pairedSums(
    a.filter((x) => seeds.has(x.seed)),
    b,
  );
}
