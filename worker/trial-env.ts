/**
 * The environment a target command gets: an allowlist of the worker's own
 * variables, never its credentials, plus the trial's parameters.
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

/** Variables the trial may never receive, whatever the spec says (credentials, worker wiring). */
const FORBIDDEN = /^(ARSWARM_(TOKEN|NATS_URL|CODE_ADDR)|NATS_|ANTHROPIC_|OPENAI_|AWS_SECRET|GITHUB_TOKEN)/;

export interface TrialEnvInput {
  readonly trial: Trial;
  /** The worker's environment (process.env). */
  readonly base: NodeJS.ProcessEnv;
  /** Persisted cache dirs, name -> path. */
  readonly cacheEnv: Readonly<Record<string, string>>;
  /** GPU index for CUDA_VISIBLE_DEVICES; undefined in CPU mode (no GPU visible). */
  readonly gpuIndex: number | undefined;
}

/** Builds the scrubbed environment, lowest precedence first. */
export function trialEnv(input: TrialEnvInput): Record<string, string> {
  const { trial, base } = input;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v === undefined) continue;
    if ((ENV_ALLOWLIST as readonly string[]).includes(k) || k.startsWith('LC_')) env[k] = v;
  }
  // Unbuffered Python output keeps progress and the log tail live.
  env.PYTHONUNBUFFERED = '1';
  Object.assign(env, input.cacheEnv);
  const fromSpec = { ...(trial.target?.env ?? {}), ...(trial.stage?.env ?? {}) };
  for (const [k, v] of Object.entries(fromSpec)) if (!FORBIDDEN.test(k)) env[k] = v;
  const stage = trial.stage;
  if (stage) {
    env.TIME_BUDGET = String(stage.budgetSeconds);
    env.ARSWARM_STAGE = stage.name;
  }
  env.SEED = String(trial.seed);
  env.ARSWARM_TRIAL_ID = trial.id;
  env.CUDA_VISIBLE_DEVICES = input.gpuIndex === undefined ? '' : String(input.gpuIndex);
  return env;
}
