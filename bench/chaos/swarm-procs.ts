/**
 * The processes of a chaos run: a nats-server whose store survives restarts,
 * the coordinator as a child process, and workers that
 * reach NATS and the CodeService through their own TCP proxies (to cut or
 * stall) and may keep their work dir on a small tmpfs (to fill). The control
 * client reaches the coordinator's gRPC port through a proxy of its own.
 *
 * The coordinator binds a free gRPC port at every start (swarm.grpc_port 0)
 * and the proxies follow the port it logs: a fixed port could be taken, by
 * another process's outgoing connection, while the coordinator is down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { GENERATED_TOKEN_FILE } from '../../coordinator/index.js';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlService } from '../../gen/arswarm/v1/control_pb.js';
import { createClient } from '../../common/grpc.js';
import type { NatsServer } from '../../common/nats-server.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'arswarm.js');

export interface ChaosWorker {
  id: string;
  proc: ChildProcess;
  /** Between the worker and nats-server. */
  proxy: TcpProxy;
  /** Between the worker and the coordinator's CodeService (gRPC). */
  codeProxy: TcpProxy;
  workDir: string;
  /** The work dir is a tmpfs this run mounted (so it can be filled). */
  tmpfs: boolean;
}

/** Mounts a small tmpfs (root only); false when not permitted. */
export function tryTmpfs(dir: string, sizeMb: number): boolean {
  mkdirSync(dir, { recursive: true });
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  } catch {
    // not mounted
  }
}

/** Fills a filesystem to the last byte; returns the filler's path. */
export function fillDisk(dir: string): string {
  const path = join(dir, 'chaos-filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${path}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    // dd exits non-zero when the disk is full: that is the point.
  }
  return path;
}

/** How much of the coordinator's stderr a failed start quotes. */
const STDERR_TAIL = 4000;

export class SwarmProcs {
  coordinator?: ChildProcess;
  readonly workers = new Map<string, ChaosWorker>();
  private _client?: ReturnType<typeof createClient<(typeof ControlService)['method']>>;
  /** The running coordinator's gRPC port (0 until it logs one). */
  private grpcPort = 0;
  /** The end of the current coordinator's stderr. */
  private stderrTail = '';

  private constructor(
    readonly dir: string,
    readonly nats: NatsServer,
    readonly configPath: string,
    readonly prefix: string,
    /** Between the control client and the coordinator's gRPC port. */
    readonly controlProxy: TcpProxy,
    private readonly log: (m: string) => void,
  ) {}

  static async create(
    dir: string,
    nats: NatsServer,
    configPath: string,
    prefix: string,
    log: (m: string) => void,
  ): Promise<SwarmProcs> {
    const control = await startTcpProxy(0);
    return new SwarmProcs(dir, nats, configPath, prefix, control, log);
  }

  /** A control client (through the control proxy) with the coordinator's generated admin token. */
  get client() {
    if (!this._client) {
      const tokenFile = join(this.dir, 'state', GENERATED_TOKEN_FILE);
      const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined;
      this._client = createClient(ControlService, `127.0.0.1:${this.controlProxy.port}`, {
        timeoutMs: 3000,
        token,
      });
    }
    return this._client;
  }

  startCoordinator(): void {
    this.coordinator = spawn(
      process.execPath,
      [
        BIN,
        'coordinator',
        '--config',
        this.configPath,
        '--nats',
        this.nats.url,
        '--state-dir',
        join(this.dir, 'state'),
        '--grpc-host',
        '127.0.0.1',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.grpcPort = 0;
    this.stderrTail = '';
    this.coordinator.stderr?.on('data', (d: Buffer) => {
      const s = d.toString();
      this.stderrTail = (this.stderrTail + s).slice(-STDERR_TAIL);
      // Up to its comma: a chunk may end inside the number.
      const port = /gRPC on (\d+),/.exec(this.stderrTail)?.[1];
      if (port && Number(port) !== this.grpcPort) this.follow(Number(port));
      if (/failed|error|arswarm:/i.test(s)) this.log(`[coordinator] ${s.trim().slice(0, 300)}`);
    });
  }

  /** Points every proxy in front of the coordinator at its new port. */
  private follow(port: number): void {
    this.grpcPort = port;
    this.controlProxy.retarget(port);
    for (const w of this.workers.values()) w.codeProxy.retarget(port);
  }

  async killCoordinator(): Promise<void> {
    const c = this.coordinator;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  /** Stops the coordinator as an operator would (SIGTERM: drain, close), -9 after `graceMs`. */
  async stopCoordinator(graceMs = 30_000): Promise<void> {
    const c = this.coordinator;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const force = setTimeout(() => c.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(force);
  }

  /** Seconds until the restarted coordinator answers GetStatus. */
  async waitServing(timeoutMs = 60_000): Promise<number> {
    const t0 = Date.now();
    const c = this.coordinator;
    while (Date.now() - t0 < timeoutMs) {
      if (c && (c.exitCode !== null || c.signalCode !== null))
        throw new Error(
          `coordinator exited (${c.exitCode ?? c.signalCode}) before serving; its stderr ended:\n${this.stderrTail}`,
        );
      if (this.grpcPort === 0 || !existsSync(join(this.dir, 'state', GENERATED_TOKEN_FILE))) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (
        await this.client.getStatus({}, { timeoutMs: 1000 }).then(
          () => true,
          () => false,
        )
      )
        return (Date.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `coordinator did not serve within ${timeoutMs / 1000} s; its stderr ended:\n${this.stderrTail}`,
    );
  }

  async startWorker(id: string, tmpfsMb: number): Promise<ChaosWorker> {
    const old = this.workers.get(id);
    const proxy = old?.proxy ?? (await startTcpProxy(this.nats.port));
    const codeProxy = old?.codeProxy ?? (await startTcpProxy(this.grpcPort));
    const workDir = old?.workDir ?? join(this.dir, 'workers', id);
    const tmpfs = old?.tmpfs ?? tryTmpfs(workDir, tmpfsMb);
    const proc = spawn(
      process.execPath,
      [
        BIN,
        'worker',
        '--nats',
        `nats://127.0.0.1:${proxy.port}`,
        '--code',
        `127.0.0.1:${codeProxy.port}`,
        '--prefix',
        this.prefix,
        '--gpus',
        'none',
        '--work-dir',
        workDir,
        '--id',
        id,
        '--heartbeat-ms',
        '500',
        '--drain-timeout-ms',
        '2000',
        '--token-file',
        join(this.dir, 'state', 'worker-token'),
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    const w = { id, proc, proxy, codeProxy, workDir, tmpfs };
    this.workers.set(id, w);
    return w;
  }

  async killWorker(id: string): Promise<void> {
    const w = this.workers.get(id);
    if (!w || w.proc.exitCode !== null || w.proc.signalCode !== null) return;
    const exited = new Promise((r) => w.proc.once('exit', r));
    w.proc.kill('SIGKILL');
    await exited;
  }

  /** Ends the run: the coordinator stops gracefully (unless `kill`), workers are killed. */
  async stop(kill = true): Promise<void> {
    if (!kill) await this.stopCoordinator();
    for (const id of this.workers.keys()) await this.killWorker(id);
    await this.killCoordinator();
    for (const w of this.workers.values()) {
      await w.proxy.close();
      await w.codeProxy.close();
      if (w.tmpfs) unmount(w.workDir);
    }
    this.workers.clear();
    await this.controlProxy.close().catch(() => undefined);
    this._client?.close();
  }
}

/** Removes a run dir (after unmounting anything left). */
export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
