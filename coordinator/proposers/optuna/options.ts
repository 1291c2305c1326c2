/**
 * Defaults of the optuna proposer and its client, stated once. What a config
 * states (name, sampler, seed, exclude, hybrid, startup trials, python) comes
 * from the parsed `kind: optuna` schema (common/config.ts).
 */
import { DEFAULT_METRIC, optunaProposerSchema } from '../../../common/config.js';
import type { OptunaClientOptions } from './client.js';
import type { OptunaOptions } from './index.js';

/** A config section with every default filled: the source of the defaults below. */
const CONFIG = optunaProposerSchema.parse({ kind: 'optuna' });

/** Defaults of OptunaClientOptions. */
export const OPTUNA_CLIENT_DEFAULTS: Readonly<Required<Omit<OptunaClientOptions, 'log'>>> = {
  /** Debian's interpreter, whose python3-optuna and python3-cmaes the server imports. @default '/usr/bin/python3' */
  python: CONFIG.python,
  /** @default 60000 */
  timeoutMs: 60_000,
};

/** The optional fields of OptunaOptions that have a default. */
type Defaulted = Required<Omit<OptunaOptions, 'log' | 'bounds' | 'objectiveStage'>>;

/** Defaults of OptunaOptions (the same as a config's). */
export const OPTUNA_DEFAULTS: Readonly<Defaulted> = {
  name: CONFIG.name,
  sampler: CONFIG.sampler,
  seed: CONFIG.seed,
  exclude: CONFIG.exclude,
  hybrid: CONFIG.hybrid,
  /** @default true (a config's metric is minimized unless it says otherwise) */
  lowerIsBetter: DEFAULT_METRIC.direction === 'minimize',
  /** @default 24 */
  maxAsks: 24,
  startupTrials: CONFIG.startup_trials,
  ...OPTUNA_CLIENT_DEFAULTS,
};

/** Every option present. */
export type ResolvedOptunaOptions = Defaulted & Pick<OptunaOptions, 'log' | 'bounds' | 'objectiveStage'>;
