/**
 * The coordinator's log lines about what blocks progress: stages no live
 * worker can run, and proposers with nothing more to offer. Each is logged
 * once per change, not once per scheduler tick; the same conditions become
 * team notices.
 */
import type { Signal } from './team/index.js';
export class FleetNotices {
  /** Stages no live worker can run, last logged. */
  private warned = '';
  /** Head and reason of the proposer exhaustion last logged. */
  private exhaustedLogged = '';

  constructor(private readonly log: (msg: string) => void) {}

  /** Logs what changed since the last call: `warnings` (stage warnings) and `exhausted` (why proposers are done at `head`). */
  note(warnings: readonly string[], exhausted: string | undefined, head: string): void {
    const key = warnings.join('\n');
    if (key !== this.warned) {
      for (const w of warnings) this.log(`warning: ${w}`);
      if (!key && this.warned) this.log('every stage has a live worker that can run it again');
      this.warned = key;
    }
    // Once per head: an exhausted proposer is asked again now and then, which
    // briefly makes it not exhausted without anything having changed.
    const at = exhausted && `${head}|${exhausted}`;
    if (at && at !== this.exhaustedLogged) {
      this.log(`proposers exhausted: ${exhausted}`);
      this.exhaustedLogged = at;
    }
  }
}

/**
 * The same conditions as team notices (webhooks): every stage warning as
 * `stalled`, and a settled run as `budget_exhausted` when its trial budget
 * is spent, else `stalled`.
 */
export function stallSignals(
  warnings: readonly string[],
  settledReason: string,
  budgetSpent: boolean,
): Signal[] {
  return [
    ...warnings.map((text) => ({ kind: 'stalled' as const, text })),
    ...(settledReason
      ? [
          {
            kind: budgetSpent ? ('budget_exhausted' as const) : ('stalled' as const),
            text: `settled: ${settledReason}`,
          },
        ]
      : []),
  ];
}
