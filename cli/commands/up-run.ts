/**
 * What `arswarm up` and `arswarm demo` run: a whole local swarm — a
 * nats-server child process (when the config says `embedded`), the
 * coordinator in this process and N local worker processes — with live
 * progress, and a clean shutdown on Ctrl-C or when a bounded run settles.
 * Kept apart from the command definitions (up.ts) so that `arswarm --help`
 * does not load the coordinator.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  Coordinator,
  LocalWorkers,
  type CoordinatorAccess,
  type RunSummary,
} from '../../coordinator/index.js';
import type { LoadedConfig } from '../../common/config-load.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { startNatsServer, type NatsServer } from '../../common/nats-server.js';
import {
  authorizationConfig,
  generateNatsUsers,
  natsCredentialsFromEnv,
  writeNatsUsers,
  type NatsCredentials,
} from '../../common/nats-permissions.js';
import { names } from '../../common/subjects.js';
import { packagePath } from '../../common/package-root.js';
import { searchCliConfig } from '../cli-config-search.js';

const BIN = packagePath('bin', 'arswarm.js');

export interface UpOptions {
  workers?: number;
  maxTrials?: number;
  stateDir?: string;
  fresh?: boolean;
  results?: string;
  quiet?: boolean;
  /** gRPC port (0 = free port). @default swarm.grpc_port */
  grpcPort?: number;
  /** HTTP port of the dashboard (0 = free port). @default swarm.http_port */
  httpPort?: number;
}

/** Runs a local swarm until it settles or is interrupted; returns the coordinator's final summary. */
export async function runUp(loaded: LoadedConfig, o: UpOptions): Promise<void> {
  const config = structuredClone(loaded.config);
  if (o.workers !== undefined) config.swarm.workers = o.workers;
  if (o.maxTrials !== undefined) config.swarm.max_trials = o.maxTrials;
  if (o.grpcPort !== undefined) config.swarm.grpc_port = o.grpcPort;
  if (o.httpPort !== undefined) config.swarm.http_port = o.httpPort;
  const stateDir = o.stateDir ? resolve(o.stateDir) : loaded.stateDir;
  if (o.fresh) rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  const say = (m: string) => o.quiet || console.error(m);

  let nats: NatsServer | undefined;
  let natsUrl = config.swarm.nats_url;
  // An external server's login comes from the environment and serves both roles.
  let login: { coordinator?: NatsCredentials; worker?: NatsCredentials } = {
    coordinator: natsCredentialsFromEnv(process.env),
    worker: natsCredentialsFromEnv(process.env),
  };
  if (natsUrl === 'embedded') {
    // Fresh logins per run, one per role: workers cannot write the ledger or manage streams.
    const users = generateNatsUsers();
    login = users;
    nats = await startNatsServer({
      storeDir: join(stateDir, 'nats'),
      extraConfig: authorizationConfig(names(config.swarm.prefix), users),
    });
    natsUrl = nats.url;
    const usersFile = join(stateDir, 'nats-users.yaml');
    writeNatsUsers(usersFile, nats.url, users);
    say(`nats-server ${nats.url} (store ${nats.storeDir}; logins in ${usersFile})`);
  }
  let workers: LocalWorkers | undefined;
  let coordinator: Coordinator | undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('stopping: draining workers ...');
    await workers?.stopAll();
    await coordinator?.drain();
    await coordinator?.close();
    await nats?.stop();
  };
  const onSignal = () => void stop().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    coordinator = await Coordinator.start({
      config,
      repoDir: loaded.repoDir,
      configPath: loaded.path,
      stateDir,
      natsUrl,
      natsCredentials: login.coordinator,
      tokensFile: process.env.ARSWARM_TOKENS_FILE,
      log: (m) => say(`[coordinator] ${m}`),
      // Built once the coordinator listens: the workers need its gRPC port and worker token.
      scaler: (access) =>
        (workers = new LocalWorkers({
          bin: BIN,
          natsUrl,
          natsCredentials: login.worker,
          // CodeService admits worker tokens only (generated into <state_dir>/worker-token when none is configured).
          workerToken: access.workerToken ?? process.env.ARSWARM_WORKER_TOKEN,
          codeAddr: `127.0.0.1:${access.grpcPort}`,
          prefix: config.swarm.prefix,
          workDir: stateDir,
          onStderr: (id, line) => {
            if (/error|fatal/i.test(line)) say(`[${id}] ${line.slice(0, 500)}`);
          },
        })),
    });
    const access = coordinator.access();
    const codeAddr = `127.0.0.1:${access.grpcPort}`;
    if (!workers)
      throw new ArswarmError(Code.Internal, 'the coordinator started without building its scaler');
    if (!o.quiet) printAccess(access, stateDir);
    await workers.scale(config.swarm.workers);
    say(
      `${config.swarm.workers} workers started; gRPC ${codeAddr}${config.swarm.max_trials ? `; stopping after ${config.swarm.max_trials} trials or when the proposers have nothing left` : '; Ctrl-C to stop'}`,
    );
    // Local workers run on CPU: a stage with a memory floor waits for a GPU worker to join.
    for (const st of config.stages.filter((x) => x.min_gpu_memory_mb > 0))
      say(
        `warning: stage ${st.name} needs a worker with >= ${st.min_gpu_memory_mb} MB of GPU memory; the local workers run on CPU, so its candidates wait for one to join (arswarm worker --gpus all)`,
      );
    const c = coordinator;
    const progress = setInterval(() => say(progressLine(c.summary())), 2000);
    await c.settled;
    clearInterval(progress);
    const end = c.summary();
    say(progressLine(end));
    console.log(`stopped: ${end.settledReason} and nothing is in flight; ${end.finished} trials`);
    const tsvPath = resolve(o.results ?? join(stateDir, 'results.tsv'));
    writeFileSync(tsvPath, c.resultsTsv());
    const log = await c.branchLog();
    console.log(`\nshared branch ${config.swarm.branch}:\n${log.trimEnd()}\n`);
    console.log(summaryLine(end));
    console.log(`results.tsv: ${tsvPath}`);
    console.log(`journal:     ${join(stateDir, 'journal.md')}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stop();
  }
}

/**
 * Tells the person who started the swarm how the CLI and the dashboard reach
 * it, and writes the same into <state dir>/cli.yaml (mode 0600), where the
 * CLI looks for it (cli-config-search.ts).
 */
function printAccess(c: CoordinatorAccess, stateDir: string): void {
  const addr = `127.0.0.1:${c.grpcPort}`;
  const scheme = c.tls ? 'https' : 'http';
  const dashboard = `${scheme}://127.0.0.1:${c.httpPort}/`;
  const token = c.generated?.token;
  const file = join(stateDir, 'cli.yaml');
  // JSON (which is YAML): the CLI reads it without loading a YAML parser.
  const cliConfig = { addr, ...(token ? { token } : {}), dashboard };
  writeFileSync(file, `${JSON.stringify(cliConfig, null, 2)}\n`, { mode: 0o600 });
  const lines = [`control: gRPC ${addr}, dashboard ${dashboard}`];
  if (token)
    lines.push(
      `  no tokens configured: generated an admin token (kept in ${c.generated!.file})`,
      `  export ARSWARM_ADDR=${addr} ARSWARM_TOKEN=${token}`,
      `  dashboard signed in: ${dashboard}#token=${token}`,
    );
  else lines.push(`  export ARSWARM_ADDR=${addr} ARSWARM_TOKEN=<a token from api.tokens or the tokens file>`);
  // The exact command: bare when the CLI's own search finds this file from here.
  if (searchCliConfig(process.cwd()) === file) lines.push(`  CLI from here: arswarm status`);
  else lines.push(`  CLI: arswarm status --cli-config ${file}`);
  lines.push(`  or: export ARSWARM_CLI_CONFIG=${file}`);
  console.error(lines.join('\n'));
}

function best(s: RunSummary): string {
  return s.best !== undefined ? s.best.toFixed(6) : 'baseline';
}

function progressLine(s: RunSummary): string {
  const states = Object.entries(s.candidateStates)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `trials ${s.finished} done, ${s.queued} queued | candidates: ${states || 'none'} | merges ${s.merges} | best ${best(s)} | workers ${s.liveWorkers}`;
}

function summaryLine(s: RunSummary): string {
  return `done: ${s.finished} trials, ${s.candidates} candidates, ${s.merges} merges, best ${best(s)}${s.baseline ? ` (baseline ${s.baseline.toFixed(6)})` : ''}`;
}
