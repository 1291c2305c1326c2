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
import { Coordinator } from '../../coordinator/coordinator.js';
import { countStates } from '../../coordinator/api/views.js';
import { LocalWorkers } from '../../coordinator/local-workers.js';
import { resultsTsv } from '../../coordinator/results-tsv.js';
import type { LoadedConfig } from '../../common/config-load.js';
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
    });
    const codeAddr = `127.0.0.1:${coordinator.grpcPort}`;
    workers = new LocalWorkers({
      bin: BIN,
      natsUrl,
      natsCredentials: login.worker,
      // CodeService admits worker tokens only (generated into <state_dir>/worker-token when none is configured).
      workerToken: coordinator.api.workerToken ?? process.env.ARSWARM_WORKER_TOKEN,
      codeAddr,
      prefix: config.swarm.prefix,
      workDir: stateDir,
      onStderr: (id, line) => {
        if (/error|fatal/i.test(line)) say(`[${id}] ${line.slice(0, 500)}`);
      },
    });
    coordinator.scaler = workers;
    if (!o.quiet) printAccess(coordinator, stateDir);
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
    const progress = setInterval(() => say(progressLine(c)), 2000);
    await c.settled;
    clearInterval(progress);
    say(progressLine(c));
    console.log(`stopped: ${c.settledReason} and nothing is in flight; ${c.ledger.state.finished} trials`);
    const tsvPath = resolve(o.results ?? join(stateDir, 'results.tsv'));
    writeFileSync(tsvPath, resultsTsv(c.ledger.state));
    const log = await c.repo.raw(['log', '--format=%h %s', c.ledger.state.head]);
    console.log(`\nshared branch ${config.swarm.branch}:\n${log.trimEnd()}\n`);
    console.log(summaryLine(c));
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
function printAccess(c: Coordinator, stateDir: string): void {
  const addr = `127.0.0.1:${c.grpcPort}`;
  const scheme = c.api.tlsEnabled ? 'https' : 'http';
  const dashboard = `${scheme}://127.0.0.1:${c.httpPort}/`;
  const token = c.api.generated?.token;
  const file = join(stateDir, 'cli.yaml');
  // JSON (which is YAML): the CLI reads it without loading a YAML parser.
  const cliConfig = { addr, ...(token ? { token } : {}), dashboard };
  writeFileSync(file, `${JSON.stringify(cliConfig, null, 2)}\n`, { mode: 0o600 });
  const lines = [`control: gRPC ${addr}, dashboard ${dashboard}`];
  if (token)
    lines.push(
      `  no tokens configured: generated an admin token (kept in ${c.api.generated!.file})`,
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

function best(c: Coordinator): string {
  const m = c.ledger.state.merges.at(-1);
  return m ? m.metricAfter.toFixed(6) : 'baseline';
}

function progressLine(c: Coordinator): string {
  const s = c.ledger.state;
  const states = Object.entries(countStates(c.ledger.state))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `trials ${s.finished} done, ${s.pending.size} queued | candidates: ${states || 'none'} | merges ${s.merges.length} | best ${best(c)} | workers ${c.workers.live().length}`;
}

function summaryLine(c: Coordinator): string {
  const s = c.ledger.state;
  const first = s.merges[0]?.metricBefore;
  return `done: ${s.finished} trials, ${s.candidates.size} candidates, ${s.merges.length} merges, best ${best(c)}${first ? ` (baseline ${first.toFixed(6)})` : ''}`;
}
