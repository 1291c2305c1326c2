/**
 * The schema of `arswarm.yaml`, validated with zod. YAML keys are snake_case;
 * this type mirrors the file. Components take camelCase options built from it
 * at the edge.
 */
import { z } from 'zod';
import { LLM_CLIENT_DEFAULTS } from './llm-client-defaults.js';
import { auditorSchema, llmRetryFields } from './auditor-config.js';
import { DEFAULT_PROGRESS_PATTERN } from './curve.js';
import { DEFAULT_INTEGRITY, integritySchema } from './integrity-config.js';
import { refineTargetRules } from './config-target-rules.js';
import { notifySchema, reviewSchema } from './team-config.js';

const envMap = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
  z.coerce.string(),
);

/** @default promote when improvement > max(min_delta, z * sigma_diff) */
export const promotionRuleSchema = z
  .object({
    /** Standard errors the improvement must clear. @default 2 */
    z: z.number().min(0).max(10).default(2),
    /** Smallest improvement worth keeping, in metric units. @default 0 */
    min_delta: z.number().min(0).default(0),
  })
  .strict();

/**
 * Stopping a losing trial inside its slot (coordinator/early-stop/rule.ts):
 * at looks from `after` every `every` of the slot, a candidate trial whose
 * intermediate metric is worse than the same-class baseline's by more than
 * max(min_delta, t·σ·√(1+1/n)) at level alpha / looks is stopped.
 */
export const earlyStopSchema = z
  .object({
    /** No stop before this share of the slot. @default 0.3 */
    after: z.number().gt(0).lt(1).default(0.3),
    /** Share of the slot between looks. @default 0.1 */
    every: z.number().gt(0).max(1).default(0.1),
    /** Width of the window a look averages, as a share of the slot. @default 0.05 */
    window: z.number().gt(0).max(0.5).default(0.05),
    /** Probability over the slot that a change no worse than the baseline is stopped. @default 0.01 */
    alpha: z.number().gt(0).lt(0.5).default(0.01),
    /** Smallest gap (in the intermediate metric's units) that stops a trial. @default 0 */
    min_delta: z.number().min(0).default(0),
    /** Degrees of freedom the baseline spread needs before any stop. @default 4 */
    min_df: z.number().int().min(1).max(1000).default(4),
  })
  .strict();

export const stageSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,30}$/, 'must be lower-case letters, digits, - or _'),
    /** Environment the command gets (e.g. DEPTH: 8). */
    env: envMap.default({}),
    /** The training slot in seconds (exported as TIME_BUDGET). */
    budget_seconds: z.number().int().positive().max(86_400),
    /** Wall-clock limit; @default budget_seconds + 120 */
    timeout_seconds: z.number().int().positive().max(172_800).optional(),
    /** Seeds run first. @default 1 */
    replicates: z.number().int().min(1).max(64).default(1),
    /** Cap when results are inconclusive. @default max(replicates, 3) */
    max_replicates: z.number().int().min(1).max(64).optional(),
    /** Workers with less GPU memory never pull this stage. @default 0 */
    min_gpu_memory_mb: z.number().int().min(0).default(0),
    promote: promotionRuleSchema.default({ z: 2, min_delta: 0 }),
    /** Stop candidate trials whose learning curve is clearly worse mid-slot. @default off */
    early_stop: earlyStopSchema.optional(),
  })
  .strict();

/**
 * A command run once per worker and distinct content of `inputs` (e.g. `uv sync
 * --frozen` keyed by pyproject.toml and uv.lock) into a directory the worker
 * keeps; every trial gets that directory in `env_var`, so no trial builds it.
 */
export const targetSetupSchema = z
  .object({
    /** Shell command run in a checkout of the trial's parent commit, with `env_var` set. */
    command: z.string().min(1),
    /** Locked files whose content keys the environment (a change prepares a new one). */
    inputs: z.array(z.string().min(1)).min(1),
    /** Variable holding the environment's directory, for the setup command and every trial. @default ARSWARM_TARGET_ENV */
    env_var: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .default('ARSWARM_TARGET_ENV'),
    /** Wall-clock limit of the setup command. @default 1800 */
    timeout_seconds: z.number().int().positive().max(86_400).default(1800),
  })
  .strict();

/** The metric the target reports, and which way is better. */
export const targetMetricSchema = z
  .object({
    /** @default val_bpb */
    name: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .default('val_bpb'),
    /** @default minimize */
    direction: z.enum(['minimize', 'maximize']).default('minimize'),
  })
  .strict();

/** The metric of a config that names none: `val_bpb`, lower is better. */
export const DEFAULT_METRIC = targetMetricSchema.parse({});

export const targetSchema = z
  .object({
    /** Path of the target git repo, relative to the config file. */
    repo: z.string().min(1),
    /** Ref the shared branch starts from when it does not exist yet. @default HEAD */
    base: z.string().min(1).default('HEAD'),
    /** Globs of files a candidate may change. */
    editable: z.array(z.string().min(1)).min(1),
    /** Files no candidate may change; hashed and checked around every run. */
    locked: z.array(z.string().min(1)).default([]),
    /** Regexes of lines in editable files that no patch may touch. */
    protected: z
      .array(
        z.string().refine((s) => {
          try {
            new RegExp(s);
            return true;
          } catch {
            return false;
          }
        }, 'must be a valid regular expression'),
      )
      .default([]),
    /** Shell command run in the work dir, e.g. `python3 train.py`. */
    command: z.string().min(1),
    metric: targetMetricSchema.default(targetMetricSchema.parse({})),
    /**
     * The intermediate metric in the trial's progress lines, for mid-slot
     * stopping (stages' `early_stop`): a regex with named groups `value` and
     * `pct` (percent of the slot) or `fraction` (0..1), optionally `step`.
     * @default autoresearch's `step 00953 (100.0%) | loss: 3.2 | ...` line, lower is better
     */
    progress: z
      .object({
        pattern: z
          .string()
          .min(1)
          .refine((s) => {
            try {
              new RegExp(s);
              return /\(\?<value>/.test(s);
            } catch {
              return false;
            }
          }, 'must be a valid regular expression with a named group (?<value>...)')
          .default(DEFAULT_PROGRESS_PATTERN),
        direction: z.enum(['minimize', 'maximize']).default('minimize'),
      })
      .strict()
      .default({ pattern: DEFAULT_PROGRESS_PATTERN, direction: 'minimize' }),
    /** Environment every trial gets, below the stage's. */
    env: envMap.default({}),
    /**
     * Stage parameters written into module-level constants instead of (or as
     * well as) the environment: `{DEPTH: train.py}` rewrites `DEPTH = ...`.
     */
    constants: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/), z.string().min(1)).default({}),
    /**
     * Prepares the target's environment once per worker (e.g. `uv sync --frozen`),
     * not per trial. @default none
     */
    setup: targetSetupSchema.optional(),
    /** Largest diff accepted, in bytes. @default 65536 */
    max_patch_bytes: z.number().int().positive().max(10_000_000).default(65_536),
    /** Semantic patch checks and output integrity (docs/reliability.md). @default every check on, no frozen region */
    integrity: integritySchema.default(DEFAULT_INTEGRITY),
  })
  .strict();

export const knobsProposerSchema = z
  .object({
    kind: z.literal('knobs'),
    /** Constants never touched (e.g. SEED, which only moves noise). @default ['SEED'] */
    exclude: z.array(z.string()).default(['SEED']),
    /** Seed of the proposer's own random choices. @default 1 */
    seed: z.number().int().default(1),
  })
  .strict();

/** What one proposer may spend; 0 means no limit. */
export const proposerBudgetSchema = z
  .object({
    /** Input plus output tokens over the swarm's life (restarts included). @default 0 (no limit) */
    tokens: z.number().int().min(0).default(0),
    /** US dollars over the swarm's life, priced with `price`. @default 0 (no limit) */
    dollars: z.number().min(0).default(0),
    /** Candidates (accepted or refused) over the swarm's life. @default 0 (no limit) */
    candidates: z.number().int().min(0).default(0),
  })
  .strict();

/** Price of the model in US dollars per million tokens, for the recorded cost. */
export const tokenPriceSchema = z
  .object({
    /** Dollars per million input tokens (cache reads and writes are counted at this price too: an upper bound). @default 2 */
    input_per_mtok: z.number().min(0).default(LLM_CLIENT_DEFAULTS.price.inputPerMtok),
    /** Dollars per million output tokens. @default 10 */
    output_per_mtok: z.number().min(0).default(LLM_CLIENT_DEFAULTS.price.outputPerMtok),
  })
  .strict();

/** Relative weights of the diversity modes; a mode the journal cannot support yet is skipped. */
export const diversityModesSchema = z
  .object({
    /** A new direction, unlike anything in the journal. @default 1 */
    explore: z.number().min(0).default(1),
    /** A variant of a kept change or a near miss. @default 1 */
    exploit: z.number().min(0).default(1),
    /** Two ideas that each helped, in one candidate. @default 1 */
    combine: z.number().min(0).default(1),
    /** Remove or undo something to see whether it earns its keep. @default 1 */
    ablation: z.number().min(0).default(1),
  })
  .strict()
  .refine((m) => m.explore + m.exploit + m.combine + m.ablation > 0, 'at least one mode needs a weight > 0');

export const claudeProposerSchema = z
  .object({
    kind: z.literal('claude'),
    /** Recorded as the candidates' proposer; give two claude proposers different names. @default claude */
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,30}$/, 'must be lower-case letters, digits, - or _')
      .default('claude'),
    /** Messages API model; set `price` to match it. @default claude-sonnet-5-5 */
    model: z.string().min(1).default(LLM_CLIENT_DEFAULTS.model),
    /**
     * Most output tokens per request, thinking included (the SDK needs streaming above
     * about 21k, which this proposer does not use). @default 16000
     */
    max_tokens: z.number().int().min(256).max(20_000).default(16_000),
    /** How much effort the model puts into a reply (output_config.effort); fewer tokens when lower. @default unset (the model's default) */
    effort: z.enum(['low', 'medium', 'high', 'xhigh', 'max']).optional(),
    /**
     * Sampling temperature, sent only when set. The Messages API version the
     * installed SDK speaks (2026-10-21) refuses sampling parameters on current
     * models with a 400; set it only for a model or gateway that accepts it.
     * @default unset (the model's own sampling)
     */
    temperature: z.number().min(0).max(1).optional(),
    /**
     * Messages API base URL, e.g. a local Messages-API server for an offline demo.
     * @default ANTHROPIC_BASE_URL, else https://api.anthropic.com
     */
    base_url: z.url().optional(),
    /**
     * File holding the API key, e.g. a Kubernetes Secret mounted read-only.
     * @default none: the key comes from ANTHROPIC_API_KEY
     */
    api_key_file: z.string().min(1).optional(),
    /**
     * The research brief (system prompt): a path in the target repo at the head;
     * when the target has none, arswarm's own program.md.
     * @default program.md
     */
    program: z.string().min(1).default('program.md'),
    /** Appended to the system prompt after the brief. @default '' */
    instructions: z.string().max(20_000).default(''),
    /** Conversations running at once. @default 4 */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Refused submissions (bad edits, syntax errors, duplicates) in one conversation before it counts as a failure. @default 3 */
    max_attempts: z.number().int().min(1).max(20).default(3),
    /** Requests in one conversation before it counts as a failure. @default 12 */
    max_turns: z.number().int().min(1).max(100).default(12),
    ...llmRetryFields,
    /** Wall-clock limit of one conversation, in seconds. @default 600 */
    timeout_seconds: z.number().int().min(1).max(86_400).default(600),
    /** Editable files up to this many bytes in total go into the first message; larger ones are read with read_file. @default 65536 */
    inline_bytes: z.number().int().min(0).max(1_000_000).default(65_536),
    /** What this proposer may spend. @default no limits */
    budget: proposerBudgetSchema.default({ tokens: 0, dollars: 0, candidates: 0 }),
    /** Model price for the recorded cost. @default 2 / 10 dollars per million input / output tokens (claude-sonnet-5-5) */
    price: tokenPriceSchema.default(tokenPriceSchema.parse({})),
    /** Weights of the diversity modes. @default 1 each */
    modes: diversityModesSchema.default({ explore: 1, exploit: 1, combine: 1, ablation: 1 }),
  })
  .strict();

/** A range of one searched constant. */
export const optunaBoundSchema = z
  .object({
    low: z.number(),
    high: z.number(),
    /** Search log-uniformly. @default inferred (positive reals and sizes: yes) */
    log: z.boolean().optional(),
    /** Integer values. @default the constant's own literal */
    int: z.boolean().optional(),
  })
  .strict()
  .refine((b) => b.low < b.high, 'low must be below high')
  .refine((b) => !b.log || b.low > 0, 'a log range needs low > 0');

/** Optuna (TPE or CMA-ES) over the numeric constants, in Debian's python3-optuna. */
export const optunaProposerSchema = z
  .object({
    kind: z.literal('optuna'),
    /** Recorded as the candidates' proposer. @default optuna */
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,30}$/, 'must be lower-case letters, digits, - or _')
      .default('optuna'),
    /** `tpe` (optuna's TPESampler) or `cmaes` (CmaEsSampler, python3-cmaes). @default tpe */
    sampler: z.enum(['tpe', 'cmaes']).default('tpe'),
    /** Seed of the sampler. @default 1 */
    seed: z.number().int().default(1),
    /** Constants never searched (SEED only moves noise). @default ['SEED'] */
    exclude: z.array(z.string()).default(['SEED']),
    /**
     * Ranges by constant name over the inferred ones (positive reals: a decade
     * either side, log; positive integers: a quarter to four times, log).
     * @default {}
     */
    bounds: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/), optunaBoundSchema).default({}),
    /**
     * Learn from other proposers' constant changes too, and give every claude
     * proposer the optimizer's best region in its journal. @default false
     */
    hybrid: z.boolean().default(false),
    /** Random samples before TPE models the results. @default 10 */
    startup_trials: z.number().int().min(0).max(1000).default(10),
    /** Interpreter with python3-optuna and python3-cmaes. @default /usr/bin/python3 */
    python: z.string().min(1).default('/usr/bin/python3'),
  })
  .strict();

export const proposerSchema = z.discriminatedUnion('kind', [
  knobsProposerSchema,
  claudeProposerSchema,
  optunaProposerSchema,
]);

export const swarmSchema = z
  .object({
    /** `embedded` starts a local nats-server; otherwise a nats:// URL. @default embedded */
    nats_url: z.string().default('embedded'),
    /** Prefix of every stream, subject and bucket. @default arswarm */
    prefix: z
      .string()
      .regex(/^[a-z][a-z0-9_-]*$/)
      .default('arswarm'),
    /** Local workers started by `arswarm up`. @default 2 */
    workers: z.number().int().min(0).max(1024).default(2),
    /** Shared branch holding accepted changes. @default arswarm/main */
    branch: z.string().min(1).default('arswarm/main'),
    /** `review` waits for a person; `auto` merges at once. @default review */
    merge_policy: z.enum(['review', 'auto']).default('review'),
    /** Baseline replicates per (head, stage, GPU class). @default 3 */
    baseline_replicates: z.number().int().min(1).max(64).default(3),
    /** Trials kept queued per worker per stage. @default 2 */
    prefetch: z.number().int().min(1).max(64).default(2),
    /** Stop after this many finished trials (0 = never). @default 0 */
    max_trials: z.number().int().min(0).default(0),
    /** Coordinator gRPC port (0 = any free port). @default 50051 */
    grpc_port: z.number().int().min(0).max(65535).default(50051),
    /** Coordinator HTTP port: dashboard, JSON gateway, /metrics, /healthz, /readyz (0 = any free port). @default 8080 */
    http_port: z.number().int().min(0).max(65535).default(8080),
    /** Where the coordinator keeps its repo copy and caches, relative to the config. @default .arswarm */
    state_dir: z.string().default('.arswarm'),
    /** JetStream ack wait for trials, beyond which a silent worker's trial is redelivered. @default 60 */
    ack_wait_seconds: z.number().int().min(1).max(3600).default(60),
    /** Push the shared branch here after every merge (a git remote URL or path), retried with backoff. */
    push_remote: z.string().min(1).optional(),
    /** JetStream replicas of every stream (3 on a 3-node NATS cluster). @default 1 */
    stream_replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
    /**
     * GPU classes whose class-specific stage queues exist from the start (the
     * Helm chart lists its pools' classes, whose KEDA triggers name them). @default []
     */
    gpu_classes: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/, 'must be a GPU class such as H100-80GB'),
      )
      .default([]),
    /** Deliveries of one trial before it counts as failed. @default 5 */
    max_deliveries: z.number().int().min(1).max(100).default(5),
    /**
     * Run-wide bound of the noise gate: the chance that any change which does
     * not really help merges during a run of `run_hours` at `run_workers`
     * (0 = no bound: each stage's z alone). The levels of the stages above the
     * first are tightened until the bound holds. @default 0.05
     */
    false_merge_rate: z.number().min(0).max(1).default(0.05),
    /** Length of the run the bound covers, in hours (a run with `max_trials` covers at most those). @default 24 */
    run_hours: z.number().positive().max(100_000).default(24),
    /** Workers of the run the bound covers. @default 16 */
    run_workers: z.number().int().min(1).max(100_000).default(16),
  })
  .strict();

/** Roles of API tokens, weakest first: each role may do everything the ones before it may. */
export const ROLES = ['viewer', 'reviewer', 'admin'] as const;
/**
 * Roles a token may have: the control roles, and `worker`, which may fetch
 * code (CodeService) and call nothing of the control API.
 */
export const TOKEN_ROLES = [...ROLES, 'worker'] as const;

export const apiTokenSchema = z
  .object({
    /** Who holds the token; recorded as the reviewer of review decisions. */
    name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'must be 1-64 letters, digits, _ . @ or -'),
    /** The bearer token itself (at least 16 characters). Give this or `sha256`. */
    token: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Hex sha256 of the token, so the file need not hold the secret. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits')
      .optional(),
    role: z.enum(TOKEN_ROLES),
  })
  .strict()
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), 'give exactly one of token or sha256');

export const apiSchema = z
  .object({
    /**
     * Bearer tokens of the control API and the dashboard. When neither this
     * nor `tokens_file` (or ARSWARM_TOKENS_FILE) gives any, the coordinator
     * generates one admin token into `<state_dir>/admin-token`.
     * @default []
     */
    tokens: z.array(apiTokenSchema).default([]),
    /** A YAML list of tokens like `tokens`, relative to the config (a mounted Secret). @default none */
    tokens_file: z.string().min(1).optional(),
    /** PEM certificate chain: gRPC and HTTP serve TLS when this and `tls_key_file` are set. @default none */
    tls_cert_file: z.string().min(1).optional(),
    /** PEM private key of `tls_cert_file`. @default none */
    tls_key_file: z.string().min(1).optional(),
    /** Interface the HTTP server (dashboard, JSON gateway, /metrics) binds. @default 127.0.0.1 */
    http_host: z.string().min(1).default('127.0.0.1'),
    /** Interface the gRPC server (control API, CodeService) binds; the chart sets 0.0.0.0. @default 127.0.0.1 */
    grpc_host: z.string().min(1).default('127.0.0.1'),
    /**
     * A file holding the worker token (role `worker`, for CodeService), e.g. a
     * mounted Secret. With neither this nor a `worker` entry in the tokens, the
     * coordinator generates one into `<state_dir>/worker-token`. @default none
     */
    worker_token_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((a) => (a.tls_cert_file === undefined) === (a.tls_key_file === undefined), {
    message: 'give both tls_cert_file and tls_key_file, or neither',
    path: ['tls_key_file'],
  });

export const configSchema = z
  .object({
    target: targetSchema,
    stages: z.array(stageSchema).min(1),
    swarm: swarmSchema.default(swarmSchema.parse({})),
    api: apiSchema.default(apiSchema.parse({})),
    proposers: z.array(proposerSchema).default([{ kind: 'knobs', exclude: ['SEED'], seed: 1 }]),
    /** An LLM that audits candidates passing the top stage for gaming. @default none (rule audit only) */
    auditor: auditorSchema.optional(),
    /** Review branches and pull requests for candidates waiting for review. @default none */
    review: reviewSchema.optional(),
    /** Webhook notices. @default none */
    notify: notifySchema.optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.stages.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i, 'name'],
          message: `duplicate stage name "${s.name}"`,
        });
      seen.add(s.name);
      if (s.max_replicates !== undefined && s.max_replicates < s.replicates)
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i, 'max_replicates'],
          message: 'must be >= replicates',
        });
      if (s.timeout_seconds !== undefined && s.timeout_seconds < s.budget_seconds)
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i, 'timeout_seconds'],
          message: 'must be >= budget_seconds',
        });
    });
    refineTargetRules(cfg, ctx);
  });

/** Replicates a stage may grow to when inconclusive: `max_replicates`, else max(replicates, 3). */
export function maxReplicatesOf(s: Pick<StageConfig, 'replicates' | 'max_replicates'>): number {
  return s.max_replicates ?? Math.max(s.replicates, 3);
}

/** The parsed file, defaults filled. */
/** The swarm and api sections of a config that sets nothing: the source of the defaults below. */
const DEFAULT_SWARM = swarmSchema.parse({});
const DEFAULT_API = apiSchema.parse({});

/** The coordinator's gRPC address under a default config (api.grpc_host:swarm.grpc_port): 127.0.0.1:50051. */
export const DEFAULT_GRPC_ADDR = `${DEFAULT_API.grpc_host}:${DEFAULT_SWARM.grpc_port}`;

/** The state dir of a default config (swarm.state_dir): .arswarm. */
export const DEFAULT_STATE_DIR = DEFAULT_SWARM.state_dir;

export type Config = z.infer<typeof configSchema>;
export type StageConfig = z.infer<typeof stageSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
export type SwarmConfig = z.infer<typeof swarmSchema>;
export type ProposerConfig = z.infer<typeof proposerSchema>;
export type KnobsProposerConfig = z.infer<typeof knobsProposerSchema>;
export type ClaudeProposerConfig = z.infer<typeof claudeProposerSchema>;
export type OptunaProposerConfig = z.infer<typeof optunaProposerSchema>;
export type ApiConfig = z.infer<typeof apiSchema>;
export type ApiToken = z.infer<typeof apiTokenSchema>;
export type Role = (typeof ROLES)[number];
export type TokenRole = (typeof TOKEN_ROLES)[number];
