/**
 * Options of the intake: documented once here, completed once by
 * resolveIntakeOptions(). The buffer's worker count comes from the config
 * (swarm.workers) until the coordinator passes the live count.
 */
import type { Config } from '../../common/config.js';
import { withDefaults } from '../../common/option-defaults.js';
import type { ProposalPool } from '../proposers/pool/index.js';

export interface IntakeOptions {
  /**
   * Runs a state change in turn with the scheduler (the coordinator's serial
   * section); background proposers record their failures through it.
   * @default runs it at once
   */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Workers the proposal buffer is sized for (x swarm.prefetch). @default swarm.workers */
  workerCount?: () => number;
  /** False while no new candidates are wanted (paused, trial budget spent). @default always true */
  wanted?: () => boolean;
  /**
   * Run proposers in the background and buffer proposals ahead of need. With
   * false, proposeOne() waits for a proposer (simulations with their own clock).
   * @default true
   */
  background?: boolean;
  /** Pool timings (tests). */
  pool?: ConstructorParameters<typeof ProposalPool>[1];
  /** Interpreter of the semantic checker. @default python3 */
  python?: string;
}

/** Every option present (`pool` and `python` pass on to their own defaults). */
export type ResolvedIntakeOptions = Required<Omit<IntakeOptions, 'pool' | 'python'>> &
  Pick<IntakeOptions, 'pool' | 'python'>;

/** Fills every default of the intake's options. */
export function resolveIntakeOptions(config: Config, o: IntakeOptions): ResolvedIntakeOptions {
  return {
    ...o,
    ...withDefaults<Required<Omit<IntakeOptions, 'pool' | 'python'>>>(
      {
        exclusive: (fn) => fn(),
        workerCount: () => config.swarm.workers,
        wanted: () => true,
        background: true,
      },
      o,
    ),
  };
}
