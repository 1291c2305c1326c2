/**
 * The coordinator as a child process (`node bin/arswarm.js coordinator`), with
 * optional node flags (e.g. `--cpu-prof`), a crash (SIGKILL), a clean stop
 * (SIGTERM, so a profile gets written) and the wait until it serves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GENERATED_TOKEN_FILE } from '../../coordinator/index.js';
import { createClient } from '../../common/grpc.js';
import { ControlService } from '../../gen/arswarm/v1/control_pb.js';
import { BIN } from '../chaos/swarm-procs.js';

export type ControlClient = ReturnType<typeof createClient<(typeof ControlService)['method']>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CoordinatorProcOptions {
  configPath: string;
  natsUrl: string;
  stateDir: string;
  grpcPort: number;
  /** Flags for node itself, before the script. @default [] */
  nodeFlags?: string[];
  log: (msg: string) => void;
}

export class CoordinatorProc {
  proc?: ChildProcess;

  constructor(private readonly o: CoordinatorProcOptions) {}

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  get addr(): string {
    return `127.0.0.1:${this.o.grpcPort}`;
  }

  /** The generated admin token (once the coordinator has written it). */
  token(): string {
    return readFileSync(join(this.o.stateDir, GENERATED_TOKEN_FILE), 'utf8').trim();
  }

  /** A new control client with the admin token. */
  client(timeoutMs = 30_000): ControlClient {
    return createClient(ControlService, this.addr, { token: this.token(), timeoutMs });
  }

  start(): void {
    const args = [
      ...(this.o.nodeFlags ?? []),
      BIN,
      'coordinator',
      '--config',
      this.o.configPath,
      '--nats',
      this.o.natsUrl,
      '--state-dir',
      this.o.stateDir,
      '--grpc-host',
      '127.0.0.1',
    ];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      const s = d.toString();
      if (/failed|error|warn/i.test(s)) this.o.log(`[coordinator] ${s.trim().slice(0, 300)}`);
    });
    this.proc = proc;
  }

  private running(): ChildProcess | undefined {
    const c = this.proc;
    return c && c.exitCode === null && c.signalCode === null ? c : undefined;
  }

  /** Crash: SIGKILL. */
  async kill(): Promise<void> {
    const c = this.running();
    if (!c) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (drain, close, exit: a profiled process writes its profile); SIGKILL after 30 s. */
  async stop(): Promise<void> {
    const c = this.running();
    if (!c) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(t);
  }

  /**
   * Seconds until the coordinator answers GetStatus, asking with a new client
   * each time: a client that saw an old process die waits out its reconnect
   * backoff (a second or more), which is not the coordinator's recovery.
   */
  async waitServing(timeoutMs: number): Promise<number> {
    const t0 = performance.now();
    const tokenFile = join(this.o.stateDir, GENERATED_TOKEN_FILE);
    while (performance.now() - t0 < timeoutMs) {
      if (!this.running())
        throw new Error(`the coordinator exited (${this.proc?.exitCode ?? this.proc?.signalCode})`);
      if (existsSync(tokenFile)) {
        const client = this.client(2000);
        const ok = await client.getStatus({}).then(
          () => true,
          () => false,
        );
        client.close();
        if (ok) return (performance.now() - t0) / 1000;
      }
      await sleep(50);
    }
    throw new Error('the coordinator did not serve');
  }
}
