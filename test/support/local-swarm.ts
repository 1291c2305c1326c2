/**
 * Test support: a whole local swarm with real parts — a nats-server child on a
 * free port with a temp store, the coordinator in this process, and worker
 * child processes started through the real `arswarm worker` command.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Coordinator } from '../../coordinator/coordinator.js';
import { loadConfig } from '../../common/config-load.js';
import type { Config } from '../../common/config.js';
import { startNatsServer, type NatsServer } from '../../common/nats-server.js';
import { authorizationConfig, generateNatsUsers, type NatsUsers } from '../../common/nats-permissions.js';
import { names as makeNames } from '../../common/subjects.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'arswarm.js');

/** Where a test worker connects and keeps its files. */
export interface WorkerArgvOptions {
  natsUrl: string;
  codePort: number;
  prefix: string;
  /** `none`, `all` or a list of indexes. */
  gpus: string;
  workDir: string;
}

/** The `arswarm worker` command line every test worker shares; `extra` flags follow. */
export function workerArgv(o: WorkerArgvOptions, extra: readonly string[] = []): string[] {
  return [
    BIN,
    'worker',
    '--nats',
    o.natsUrl,
    '--code',
    `127.0.0.1:${o.codePort}`,
    '--prefix',
    o.prefix,
    '--gpus',
    o.gpus,
    '--work-dir',
    o.workDir,
    ...extra,
  ];
}

export interface LocalSwarmOptions {
  /** Bundled example to copy into a temp dir. */
  example: string;
  /** A target folder to copy instead of the example (its arswarm.yaml is loaded). */
  source?: string;
  /** Per-role NATS logins, as `arswarm up` sets them (workers get theirs in the environment). @default none */
  natsLogins?: boolean;
  /** Extra environment of the worker processes. */
  workerEnv?: NodeJS.ProcessEnv;
  /** Changes to the loaded config. */
  edit?: (c: Config) => void;
  workers?: number;
  /** Keep coordinator log lines here. */
  logs?: string[];
}

export interface LocalSwarm {
  dir: string;
  config: Config;
  nats: NatsServer;
  /** The NATS logins (natsLogins). */
  users?: NatsUsers;
  coordinator: Coordinator;
  workers: ChildProcess[];
  stateDir: string;
  repoDir: string;
  startWorker(id: string): ChildProcess;
  restartCoordinator(): Promise<Coordinator>;
  stop(): Promise<void>;
}

export async function startLocalSwarm(o: LocalSwarmOptions): Promise<LocalSwarm> {
  const dir = mkdtempSync(join(tmpdir(), `arswarm-${o.example}-`));
  const repoDir = join(dir, 'target');
  cpSync(o.source ?? join(ROOT, 'examples', o.example), repoDir, {
    recursive: true,
    filter: (p) => !p.includes('.arswarm') && !p.includes('__pycache__'),
  });
  const loaded = loadConfig(join(repoDir, 'arswarm.yaml'));
  const config = structuredClone(loaded.config);
  config.swarm.grpc_port = 0;
  config.swarm.http_port = 0;
  o.edit?.(config);
  const stateDir = join(dir, 'state');
  const users = o.natsLogins ? generateNatsUsers() : undefined;
  const nats = await startNatsServer({
    storeDir: join(dir, 'nats'),
    ...(users ? { extraConfig: authorizationConfig(makeNames(config.swarm.prefix), users) } : {}),
  });
  const log = (m: string) => o.logs?.push(m);
  const start = () =>
    Coordinator.start({
      config,
      repoDir,
      stateDir,
      natsUrl: nats.url,
      natsCredentials: users?.coordinator,
      grpcPort: 0,
      tickMs: 100,
      log,
    });
  let coordinator = await start();
  let codePort = coordinator.grpcPort;
  const workers: ChildProcess[] = [];
  const startWorker = (id: string) => {
    const w = spawn(
      process.execPath,
      workerArgv(
        {
          natsUrl: nats.url,
          codePort,
          prefix: config.swarm.prefix,
          gpus: 'none',
          workDir: join(dir, `w-${id}`),
        },
        ['--id', id, '--heartbeat-ms', '500', '--token-file', join(stateDir, 'worker-token')],
      ),
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...process.env,
          ...o.workerEnv,
          ...(users
            ? { ARSWARM_NATS_USER: users.worker.user, ARSWARM_NATS_PASSWORD: users.worker.password }
            : {}),
        },
      },
    );
    w.stderr?.on('data', (d: Buffer) => log(`[${id}] ${d.toString().trim()}`));
    workers.push(w);
    return w;
  };
  for (let i = 0; i < (o.workers ?? 2); i++) startWorker(`w${i + 1}`);
  const swarm: LocalSwarm = {
    dir,
    config,
    nats,
    users,
    get coordinator() {
      return coordinator;
    },
    workers,
    stateDir,
    repoDir,
    startWorker,
    async restartCoordinator() {
      coordinator = await start();
      codePort = coordinator.grpcPort;
      return coordinator;
    },
    async stop() {
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((r) => {
              if (w.exitCode !== null || w.signalCode !== null) return r();
              w.once('exit', () => r());
              w.kill('SIGKILL');
            }),
        ),
      );
      await coordinator.close().catch(() => undefined);
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return swarm;
}

/** What one `arswarm` CLI run printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `arswarm` CLI against a swarm's gRPC port with a token (ARSWARM_ADDR / ARSWARM_TOKEN). */
export function runCli(swarm: LocalSwarm, args: readonly string[], token: string): Promise<CliRun> {
  return new Promise((ok) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        timeout: 60_000,
        env: {
          ...process.env,
          ARSWARM_ADDR: `127.0.0.1:${swarm.coordinator.grpcPort}`,
          ARSWARM_TOKEN: token,
        },
      },
      (err, stdout, stderr) => ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
