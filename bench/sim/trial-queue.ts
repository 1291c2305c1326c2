/**
 * The simulated trial queues: one FIFO per stage, taken highest stage first,
 * as workers pull JetStream stage consumers (README "Work distribution").
 */
import type { Trial } from '../../gen/arswarm/v1/trial_pb.js';

export class TrialQueue {
  private readonly stages: Trial[][] = [];
  private count = 0;

  /** Queues a trial at the end of its stage's FIFO. */
  push(trial: Trial): void {
    const i = trial.stage?.index ?? 0;
    while (this.stages.length <= i) this.stages.push([]);
    this.stages[i]!.push(trial);
    this.count++;
  }

  /** The next trial a free worker pulls: the oldest of the highest non-empty stage. */
  take(): Trial | undefined {
    for (let i = this.stages.length - 1; i >= 0; i--) {
      const t = this.stages[i]!.shift();
      if (t) {
        this.count--;
        return t;
      }
    }
    return undefined;
  }

  get size(): number {
    return this.count;
  }
}
