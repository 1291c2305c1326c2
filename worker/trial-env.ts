/**
 * The environment a target command gets: an allowlist of the worker's own
 * variables, never its credentials, plus the trial's parameters. Split in two
 * because the per-loop part is fixed before a trial arrives (the launcher
 * process is started with it) and the per-trial part is exported on top.
 */
import type { Trial } from '../gen/arswarm/v1/trial_pb.js';

/** Variables copied from the worker's environment when set. */
export const ENV_ALLOWLIST = [
  'PATH',
  'HOME',
  'LANG',
  'TMPDIR',
  'TERM',
  'USER',
  'LOGNAME',
  'SHELL',
  'TZ',
] as const;

/** Variables a trial never receives, whatever the spec says (credentials, worker wiring). */
const FORBIDDEN =
  /^(ARSWARM_(TOKEN|WORKER_TOKEN|NATS_|CODE_ADDR)|NATS_|ANTHROPIC_|OPENAI_|AWS_SECRET|GITHUB_TOKEN)/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface LoopEnvInput {
  /** The worker's environment (process.env). */
  readonly base: NodeJS.ProcessEnv;
  /** Persisted cache dirs, name -> path. */
  readonly cacheEnv: Readonly<Record<string, string>>;
  /** GPU index for CUDA_VISIBLE_DEVICES; undefined in CPU mode (no GPU visible). */
  readonly gpuIndex: number | undefined;
}

/** The part every trial of a loop shares: allowlist, caches, CUDA_VISIBLE_DEVICES. */
export function loopEnv(input: LoopEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.base)) {
    if (v === undefined) continue;
    if ((ENV_ALLOWLIST as readonly string[]).includes(k) || k.startsWith('LC_')) env[k] = v;
  }
  // Unbuffered Python output keeps progress and the log tail live.
  env.PYTHONUNBUFFERED = '1';
  Object.assign(env, input.cacheEnv);
  env.CUDA_VISIBLE_DEVICES = input.gpuIndex === undefined ? '' : String(input.gpuIndex);
  return env;
}

/** The trial's own variables: target env, stage env, TIME_BUDGET, SEED and ids (valid names only). */
export function trialVars(trial: Trial): Record<string, string> {
  const vars: Record<string, string> = {};
  const fromSpec = { ...(trial.target?.env ?? {}), ...(trial.stage?.env ?? {}) };
  for (const [k, v] of Object.entries(fromSpec)) {
    if (NAME.test(k) && !FORBIDDEN.test(k) && k !== 'CUDA_VISIBLE_DEVICES' && !v.includes('\0')) vars[k] = v;
  }
  if (trial.stage) {
    vars.TIME_BUDGET = String(trial.stage.budgetSeconds);
    vars.ARSWARM_STAGE = trial.stage.name;
  }
  vars.SEED = String(trial.seed);
  vars.ARSWARM_TRIAL_ID = trial.id;
  return vars;
}
