/**
 * What a coordinator is started with (CoordinatorOptions), what it reports
 * back to whoever started it (CoordinatorAccess), and its lifecycle states.
 */
import type { Config } from '../common/config.js';
import type { NatsCredentials } from '../common/nats-permissions.js';
import type { SnapshotOptions } from './ledger/snapshots.js';
import type { Proposer } from './proposers/proposer.js';
import type { WorkerScaler } from './scaler.js';

export type CoordinatorState = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

export interface CoordinatorOptions {
  config: Config;
  /** Absolute path of the target repo or folder. */
  repoDir: string;
  /** Absolute state dir (repo copy, scratch worktree). */
  stateDir: string;
  /** NATS server URL (an `embedded` config is resolved by the caller). */
  natsUrl: string;
  /** NATS login of the coordinator role (ARSWARM_NATS_USER / ARSWARM_NATS_PASSWORD). @default none */
  natsCredentials?: NatsCredentials;
  /** Interface the gRPC server binds. @default api.grpc_host (127.0.0.1) */
  grpcHost?: string;
  /** Overrides swarm.grpc_port (0 = free port). */
  grpcPort?: number;
  /** Overrides api.http_host. */
  httpHost?: string;
  /** Overrides swarm.http_port (0 = free port). */
  httpPort?: number;
  /** The config file, left out when a plain target folder is imported. @default none (only `arswarm.yaml` is) */
  configPath?: string;
  /** Overrides api.tokens_file (ARSWARM_TOKENS_FILE). */
  tokensFile?: string;
  /** Scheduler tick. @default 250 */
  tickMs?: number;
  /** When ledger snapshots are written (ledger/snapshots.ts). @default every 20,000 events, at most once a minute */
  snapshots?: SnapshotOptions;
  /** Extra proposers (tests); the config's proposers are always built. */
  proposers?: Proposer[];
  /** Where proposer credentials come from (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Progress and decisions, one line each. @default console.error */
  log?: (msg: string) => void;
  /**
   * What changes the worker count (SetWorkers): a scaler, or a function
   * building one once the coordinator listens (local workers need its gRPC
   * port and worker token). Called before `start` resolves. @default none (SetWorkers fails)
   */
  scaler?: WorkerScaler | ((access: CoordinatorAccess) => WorkerScaler);
}

/** Scheduler tick. @default 250 ms */
export const DEFAULT_TICK_MS = 250;

/** CoordinatorOptions with every default filled in, once, at construction. */
export interface ResolvedCoordinatorOptions extends Omit<
  CoordinatorOptions,
  'grpcHost' | 'grpcPort' | 'httpHost' | 'httpPort' | 'tickMs' | 'snapshots' | 'env' | 'log'
> {
  grpcHost: string;
  grpcPort: number;
  httpHost: string;
  httpPort: number;
  tickMs: number;
  snapshots: SnapshotOptions;
  env: NodeJS.ProcessEnv;
  log: (msg: string) => void;
}

/** Fills the defaults: the API's hosts and ports from the parsed config, the rest from the constants above. */
export function resolveCoordinatorOptions(o: CoordinatorOptions): ResolvedCoordinatorOptions {
  const { config } = o;
  return {
    ...o,
    grpcHost: o.grpcHost ?? config.api.grpc_host,
    grpcPort: o.grpcPort ?? config.swarm.grpc_port,
    httpHost: o.httpHost ?? config.api.http_host,
    httpPort: o.httpPort ?? config.swarm.http_port,
    tickMs: o.tickMs ?? DEFAULT_TICK_MS,
    snapshots: o.snapshots ?? {},
    env: o.env ?? process.env,
    log: o.log ?? ((m) => console.error(`[coordinator] ${m}`)),
  };
}

/** How clients and workers reach a started coordinator. */
export interface CoordinatorAccess {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Whether the gRPC and HTTP servers speak TLS. */
  readonly tls: boolean;
  /** The worker token in clear when known (what local workers get). */
  readonly workerToken?: string;
  /** The admin token generated because none was configured (print it to the person who started the swarm, never log it). */
  readonly generated?: { readonly token: string; readonly file: string };
}

/**
 * Files the options name that may hold secrets (the config, token files, the
 * TLS key, proposer API keys) and the state dir: never imported into the
 * shared branch, which every trial checks out.
 */
export function secretPaths(o: CoordinatorOptions): string[] {
  const { config } = o;
  return [
    o.stateDir,
    ...(o.configPath ? [o.configPath] : []),
    ...[o.tokensFile, config.api.tokens_file, config.api.tls_key_file].filter((f): f is string => !!f),
    ...config.proposers.flatMap((p) => (p.kind === 'claude' && p.api_key_file ? [p.api_key_file] : [])),
  ];
}
