/**
 * Proposers from the config: `knobs` (offline) and `claude` (Messages API).
 * People submit through the intake directly (`arswarm submit`, the dashboard).
 */
import { readFileSync } from 'node:fs';
import type { ClaudeProposerConfig, Config } from '../../common/config.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { packagePath } from '../../common/package-root.js';
import { apiKeyFilePath, apiKeyGetter } from './claude/api-key.js';
import { messagesBaseUrl } from './claude/client.js';
import { ClaudeProposer } from './claude/index.js';
import { KnobsProposer } from './knobs.js';
import { withRegion } from './optuna/hybrid.js';
import { OptunaProposer } from './optuna/index.js';
import type { Proposer } from './proposer.js';

export { ClaudeProposer } from './claude/index.js';
export { KnobsProposer } from './knobs.js';
export { OptunaProposer } from './optuna/index.js';
export { ProposalPool } from './pool/index.js';
export type { Proposal, ProposalContext, Proposer, ProposerLimits, LlmCost } from './proposer.js';

/** arswarm's own research brief, used when the target has no program.md. */
export const BUNDLED_BRIEF = packagePath('program.md');

export interface BuildProposersDeps {
  /** The process environment: ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL are read from it, nothing else. */
  env: NodeJS.ProcessEnv;
  log: (msg: string) => void;
  /** Where `api_key_file` paths are relative to (the config's directory). @default the working directory */
  baseDir?: string;
}

function readBrief(): string {
  try {
    return readFileSync(BUNDLED_BRIEF, 'utf8');
  } catch {
    return '# Research brief\n\nLower the metric of the training script within the fixed time budget.\n';
  }
}

/** A claude proposer from its config section. */
export function claudeProposer(
  c: ClaudeProposerConfig,
  config: Config,
  deps: BuildProposersDeps,
  field: string,
): ClaudeProposer {
  const file = apiKeyFilePath(c.api_key_file, deps.baseDir);
  const apiKey = apiKeyGetter({ file, env: deps.env, field: `${field}.api_key_file` });
  if (c.temperature !== undefined)
    deps.log(
      `${c.name}: temperature ${c.temperature} is sent as set; current models refuse sampling parameters (400)`,
    );
  return new ClaudeProposer({
    name: c.name,
    model: c.model,
    maxTokens: c.max_tokens,
    temperature: c.temperature,
    effort: c.effort,
    baseURL: messagesBaseUrl(c.base_url, deps.env),
    apiKey,
    program: c.program,
    fallbackBrief: readBrief(),
    instructions: c.instructions,
    maxAttempts: c.max_attempts,
    maxTurns: c.max_turns,
    maxRetries: c.max_retries,
    maxRetryWaitMs: c.max_retry_wait_seconds * 1000,
    inlineBytes: c.inline_bytes,
    price: { inputPerMtok: c.price.input_per_mtok, outputPerMtok: c.price.output_per_mtok },
    modes: c.modes,
    metric: config.target.metric.name,
    limits: {
      concurrency: c.concurrency,
      timeoutMs: c.timeout_seconds * 1000,
      tokens: c.budget.tokens,
      dollars: c.budget.dollars,
      candidates: c.budget.candidates,
    },
    log: deps.log,
  });
}

/** Every proposer the config lists; names must be unique (they key budgets and history). */
export function buildProposers(config: Config, deps: BuildProposersDeps): Proposer[] {
  const out: Proposer[] = [];
  const hybrid: OptunaProposer[] = [];
  config.proposers.forEach((p, i) => {
    const field = `proposers[${i}]`;
    let proposer: Proposer;
    if (p.kind === 'knobs') proposer = new KnobsProposer({ exclude: p.exclude, seed: p.seed });
    else if (p.kind === 'claude') proposer = claudeProposer(p, config, deps, field);
    else {
      const o = new OptunaProposer({
        name: p.name,
        sampler: p.sampler,
        seed: p.seed,
        exclude: p.exclude,
        bounds: p.bounds,
        hybrid: p.hybrid,
        startupTrials: p.startup_trials,
        python: p.python,
        objectiveStage: config.stages[0]!.name,
        lowerIsBetter: config.target.metric.direction === 'minimize',
        log: deps.log,
      });
      if (p.hybrid) hybrid.push(o);
      proposer = o;
    }
    if (out.some((o) => o.name === proposer.name))
      throw new ArswarmError(Code.InvalidArgument, `two proposers are named "${proposer.name}"`, {
        field: `${field}.name`,
        reason: 'invalid_config',
        hint: 'give each claude or optuna proposer its own name',
      });
    out.push(proposer);
  });
  // Hybrid: every claude proposer reads the optimizers' best regions in its journal.
  return out.map((p, i) =>
    config.proposers[i]!.kind === 'claude' ? hybrid.reduce<Proposer>((q, o) => withRegion(q, o), p) : p,
  );
}
