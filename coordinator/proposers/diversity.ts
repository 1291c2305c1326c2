/**
 * Diversity for LLM proposers: every request states one mode — explore,
 * exploit, combine two winners, or ablation — picked by a smooth weighted
 * rotation whose weights come from the config and from the journal (a mode
 * with nothing to work on is skipped; a run of rejections favours exploring,
 * fresh winners favour exploiting them).
 */
import { DEFAULT_METRIC } from '../../common/config.js';
import { formatDelta, type HistoryEntry } from '../journal.js';

export type Mode = 'explore' | 'exploit' | 'combine' | 'ablation';
export const MODES: readonly Mode[] = ['explore', 'exploit', 'combine', 'ablation'];

/** One request's mode and what it tells the model. */
export interface ModePlan {
  mode: Mode;
  instructions: string;
  /** Candidates the instructions name. */
  refs: string[];
}

/** Ideas that looked better than their baseline and are not merged yet. */
function unmergedWinners(history: readonly HistoryEntry[]): HistoryEntry[] {
  return history
    .filter(
      (e) =>
        e.status !== 'kept' &&
        e.status !== 'refused' &&
        e.status !== 'crashed' &&
        ((e.delta ?? 0) > 0 || e.passed.length > 0),
    )
    .sort((a, b) => (b.delta ?? 0) - (a.delta ?? 0));
}

/** Kept changes and unmerged winners, best first. */
function promising(history: readonly HistoryEntry[]): HistoryEntry[] {
  const kept = history.filter((e) => e.status === 'kept').reverse();
  return [...unmergedWinners(history), ...kept];
}

/** Mode weights for this journal: config weights, zero where a mode has nothing to work on. */
export function modeWeights(
  history: readonly HistoryEntry[],
  base: Readonly<Record<Mode, number>>,
): Record<Mode, number> {
  const decided = history.filter((e) => e.status !== 'in_flight' && e.status !== 'refused');
  const recent = decided.slice(-8);
  const stuck = recent.length >= 8 && recent.every((e) => e.status === 'rejected' || e.status === 'crashed');
  const freshWin = recent.some((e) => e.status === 'kept' || e.status === 'review' || e.passed.length > 0);
  return {
    explore: base.explore * (stuck ? 2 : 1),
    exploit: promising(history).length >= 1 ? base.exploit * (freshWin ? 2 : 1) : 0,
    combine: unmergedWinners(history).length >= 2 ? base.combine : 0,
    ablation: base.ablation,
  };
}

const line = (e: HistoryEntry) =>
  `${e.id} "${e.title}"${e.delta !== undefined ? ` (${e.stage} ${formatDelta(e.delta, e.sigma, e.n)})` : ''}`;

/** The instructions for one mode. */
export function planFor(
  mode: Mode,
  history: readonly HistoryEntry[],
  turn: number,
  metric: string,
): ModePlan {
  switch (mode) {
    case 'exploit': {
      const top = promising(history).slice(0, 3);
      return {
        mode,
        refs: top.map((e) => e.id),
        instructions:
          'Mode: EXPLOIT. Take the most promising direction so far and propose a variant of it ' +
          '(another magnitude, a related change in the same spirit), not a copy:\n' +
          top.map((e) => `- ${line(e)}`).join('\n'),
      };
    }
    case 'combine': {
      const w = unmergedWinners(history).slice(0, 4);
      const pairs: [HistoryEntry, HistoryEntry][] = [];
      for (let i = 0; i < w.length; i++) for (let j = i + 1; j < w.length; j++) pairs.push([w[i]!, w[j]!]);
      const [a, b] = pairs[turn % pairs.length]!;
      return {
        mode,
        refs: [a.id, b.id],
        instructions:
          'Mode: COMBINE. These two ideas each looked better on their own; apply both together in one ' +
          'candidate (read their diffs with list_history) and say in the hypothesis why they should add up:\n' +
          `- ${line(a)}\n- ${line(b)}`,
      };
    }
    case 'ablation': {
      const kept = history.filter((e) => e.status === 'kept').slice(-3);
      return {
        mode,
        refs: kept.map((e) => e.id),
        instructions:
          'Mode: ABLATION. Remove or simplify one thing and test whether it earns its keep: ' +
          (kept.length
            ? `undo or trim part of a kept change (${kept.map((e) => e.id).join(', ')}), or drop a component of the script. `
            : 'drop a component, option or trick of the script. ') +
          `A simpler script at equal ${metric} is a win: say so in the hypothesis.`,
      };
    }
    default:
      return {
        mode: 'explore',
        refs: [],
        instructions:
          'Mode: EXPLORE. Propose an idea unlike anything in the journal: a different part of the script ' +
          '(optimizer, learning-rate schedule, architecture, initialisation, regularisation, numerics, batch ' +
          'handling). Stay away from directions already rejected.',
      };
  }
}

/** Smooth weighted round-robin over the modes (deterministic; each mode gets its share in turn). */
export class ModePicker {
  private readonly current: Record<Mode, number> = { explore: 0, exploit: 0, combine: 0, ablation: 0 };
  private turn = 0;

  constructor(
    private readonly base: Readonly<Record<Mode, number>>,
    private readonly metric = DEFAULT_METRIC.name,
  ) {}

  next(history: readonly HistoryEntry[]): ModePlan {
    const w = modeWeights(history, this.base);
    let total = 0;
    let best: Mode = 'explore';
    for (const m of MODES) {
      if (w[m] <= 0) continue;
      this.current[m] += w[m];
      total += w[m];
      if (w[best] <= 0 || this.current[m] > this.current[best]) best = m;
    }
    if (total > 0) this.current[best] -= total;
    return planFor(best, history, this.turn++, this.metric);
  }
}
