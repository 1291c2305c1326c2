/**
 * Asynchronous successive halving (ASHA, Li et al. 2018, "A System for
 * Massively Parallel Hyperparameter Tuning", Algorithm 2), the bookkeeping
 * only: which configuration a free worker runs next. Pure.
 *
 * Rung 0 is the cheapest resource, the last rung the full one. Whenever a
 * worker is free, ASHA looks from the second-highest rung down for a
 * configuration in the top ⌊n_k / η⌋ of the n_k results at rung k that has
 * not been promoted yet, and promotes the best such one to rung k + 1; when
 * there is none it starts a new configuration at rung 0. Promotion never
 * waits for a rung to fill (the asynchronous part): a configuration that
 * ranks in the top 1/η when it is looked at goes up, even if later results
 * would have pushed it out.
 */
import type { Config } from '../../common/config.js';

/** One rung: a resource level of the ladder (its depth and slot). */
export interface AshaRung {
  /** The first stage of the ladder with this depth and slot (its trials' stage). */
  stageIndex: number;
  depth: number;
  budgetS: number;
}

/**
 * The ladder's distinct resource levels, in ladder order: stages with the
 * same DEPTH and budget as an earlier one (a confirm rung that only adds
 * seeds) are the same resource to ASHA.
 */
export function rungsOf(config: Pick<Config, 'stages'>): AshaRung[] {
  const out: AshaRung[] = [];
  config.stages.forEach((s, stageIndex) => {
    const depth = Number(s.env.DEPTH ?? '0') || 0;
    if (!out.some((r) => r.depth === depth && r.budgetS === s.budget_seconds))
      out.push({ stageIndex, depth, budgetS: s.budget_seconds });
  });
  return out;
}

/** What a free worker runs: configuration `id` at `rung`. */
export interface AshaJob {
  id: string;
  rung: number;
}

export class AshaLadder {
  private readonly results: Map<string, number>[];
  private readonly promoted: Set<string>[];

  /**
   * @param rungs number of rungs (≥ 1)
   * @param eta reduction factor: the top 1/η of a rung goes up @default 3
   * @param lowerIsBetter direction of the metric @default true
   */
  constructor(
    readonly rungs: number,
    readonly eta = 3,
    private readonly lowerIsBetter = true,
  ) {
    if (!Number.isInteger(rungs) || rungs < 1) throw new Error(`ASHA needs at least one rung, got ${rungs}`);
    if (!(eta > 1)) throw new Error(`ASHA's reduction factor must exceed 1, got ${eta}`);
    this.results = Array.from({ length: rungs }, () => new Map());
    this.promoted = Array.from({ length: rungs }, () => new Set());
  }

  /** Records the result of `id` at `rung`; a failed run is NaN and ranks last. */
  record(id: string, rung: number, value: number): void {
    if (rung < 0 || rung >= this.rungs) throw new Error(`no rung ${rung} (${this.rungs} rungs)`);
    this.results[rung]!.set(id, value);
  }

  /** Results at a rung, best first (failed runs last). */
  ranked(rung: number): { id: string; value: number }[] {
    const key = (v: number) => (Number.isNaN(v) ? Infinity : this.lowerIsBetter ? v : -v);
    return [...this.results[rung]!.entries()]
      .map(([id, value]) => ({ id, value }))
      .sort((a, b) => key(a.value) - key(b.value));
  }

  /**
   * The next promotion, marked as taken, or undefined when none is due (the
   * caller then starts a new configuration at rung 0).
   */
  promotion(): AshaJob | undefined {
    for (let k = this.rungs - 2; k >= 0; k--) {
      const top = this.ranked(k).slice(0, Math.floor(this.results[k]!.size / this.eta));
      const next = top.find((r) => !this.promoted[k]!.has(r.id) && !Number.isNaN(r.value));
      if (next) {
        this.promoted[k]!.add(next.id);
        return { id: next.id, rung: k + 1 };
      }
    }
    return undefined;
  }

  /** Configurations with a result at a rung. */
  size(rung: number): number {
    return this.results[rung]!.size;
  }
}
