/**
 * The worker process: one NATS connection, one code cache, one trial loop per
 * GPU (or one CPU loop), heartbeats in the workers KV bucket, and a drain that
 * finishes or hands back the current trials.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encode } from '../common/codec.js';
import { ArswarmError, Code } from '../common/errors.js';
import { createClient } from '../common/grpc.js';
import { natsConnectError } from '../common/nats-permissions.js';
import { names as makeNames, token, type Names } from '../common/subjects.js';
import { CodeService } from '../gen/arswarm/v1/code_pb.js';
import { WorkerHeartbeatSchema, WorkerState } from '../gen/arswarm/v1/trial_pb.js';
import { checkCodeAccess } from './code-access.js';
import { CodeCache, type BundleSource } from './code-cache.js';
import { ConsumerCache } from './consumer-cache.js';
import { selectDevices, type Device } from './gpus.js';
import {
  decideIsolation,
  effectiveCaps,
  EXPOSED_WITHOUT_ISOLATION,
  lockDownWorkDir,
  loopTrialIds,
  unreachableAncestor,
  type Isolation,
} from './isolation.js';
import { LadderWatch } from './ladder.js';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.js';
import { TrialLoop, type LoopStatus } from './trial-loop.js';

/** Lifecycle of a worker. */
export type WorkerLifecycle = 'created' | 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

/** The id a loop reports: the worker id, or `<id>-gpu<index>` when the worker drives several GPUs. */
export function loopId(workerId: string, device: Device, loops: number): string {
  return loops > 1 && device.gpu ? `${workerId}-gpu${device.gpu.index}` : workerId;
}

export class Worker {
  readonly options: ResolvedWorkerOptions;
  readonly names: Names;
  private lifecycle: WorkerLifecycle = 'created';
  private nc: NatsConnection | undefined;
  private client: (BundleSource & { close(): void }) | undefined;
  private ladder: LadderWatch | undefined;
  private loops: TrialLoop[] = [];
  private running: Promise<void>[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private workersKv: KV | undefined;
  private readonly startedAtMs = Date.now();
  private drained: Promise<void> | undefined;
  private cache: CodeCache | undefined;
  private isolationState: Isolation | undefined;

  constructor(options: WorkerOptions = {}) {
    this.options = resolveWorkerOptions(options);
    this.names = makeNames(this.options.prefix);
  }

  get state(): WorkerLifecycle {
    return this.lifecycle;
  }

  /** Whether trials run as a separate uid, decided at start(): `ids` when on, `off` with the reason. */
  get isolation(): Isolation | undefined {
    return this.isolationState;
  }

  /** What each loop runs on (after start()). */
  get devices(): { workerId: string; device: Device }[] {
    return this.loops.map((l) => ({ workerId: l.workerId, device: l.device }));
  }

  /** Connects, detects devices, waits for the ladder and starts the loops. */
  async start(): Promise<void> {
    if (this.lifecycle !== 'created')
      throw new ArswarmError(Code.FailedPrecondition, `worker already ${this.lifecycle}`);
    this.lifecycle = 'starting';
    const o = this.options;
    const log = o.logger;
    try {
      const devices = await selectDevices(o.gpus, o.nvidiaSmi);
      this.nc = await connect({
        servers: o.natsUrl,
        name: `arswarm-worker ${o.id}`,
        maxReconnectAttempts: -1,
        ...(o.natsUser ? { user: o.natsUser, pass: o.natsPassword } : {}),
      }).catch((err: unknown) => {
        throw natsConnectError(err, o.natsUrl, o.natsUser);
      });
      const js = jetstream(this.nc);
      const consumers = new ConsumerCache(await jetstreamManager(this.nc), this.names.trialsStream);
      this.client = createClient(CodeService, o.codeAddr, {
        token: o.token,
        rootCert: o.caCertFile ? readFileSync(o.caCertFile) : undefined,
      });
      await checkCodeAccess(this.client, o.codeAddr, o.token !== undefined);
      const cache = (this.cache = new CodeCache(o.workDir, this.client, token(o.id)));
      await cache.init();
      const isolation = (this.isolationState = await this.isolate());
      this.ladder = new LadderWatch(this.nc, this.names.controlBucket, (err) =>
        log('warn', 'waiting for the ladder in the control bucket', {
          error: ArswarmError.from(err).message,
        }),
      );
      this.loops = devices.map(
        (d, k) =>
          new TrialLoop(loopId(o.id, d, devices.length), d, {
            nc: this.nc!,
            js,
            names: this.names,
            ladder: this.ladder!,
            cache,
            consumers,
            options: o,
            trialIds: isolation.ids && loopTrialIds(isolation.ids, k, o.trialUser !== 'auto'),
            // A given uid (one per loop) is the trials' alone; `auto`'s 65534 may be other daemons' too.
            ownsTrialUid: o.trialUser !== 'auto',
          }),
      );
      for (const l of this.loops) await l.init();
      this.heartbeat = setInterval(() => void this.beat(), o.heartbeatMs);
      void this.beat();
      log('info', 'worker starting', {
        id: o.id,
        loops: this.loops.map((l) => ({ id: l.workerId, class: l.device.gpuClass })),
      });
      if (isolation.ids)
        log('info', 'trial isolation on', {
          uids: this.loops.map((l) => l.trialIds?.uid),
          gid: isolation.ids.gid,
        });
      else log('warn', `trial isolation off: ${isolation.off}; ${EXPOSED_WITHOUT_ISOLATION}`);
      if (!(await this.ladder.ready())) return;
      this.lifecycle = 'running';
      this.running = this.loops.map((l) =>
        l.run().catch((err: unknown) =>
          log('error', 'trial loop failed', {
            workerId: l.workerId,
            error: ArswarmError.from(err).message,
          }),
        ),
      );
    } catch (err) {
      this.lifecycle = 'failed';
      await this.close();
      this.lifecycle = 'failed';
      throw ArswarmError.from(err);
    }
  }

  /**
   * Decides whether trials run as a separate uid and, when they do, locks the
   * work dir down. `auto` falls back to running trials as the worker when the
   * trial uid could not reach its work tree or a data cache (e.g. a work dir
   * inside a 0700 home); given ids make that an error instead.
   */
  private async isolate(): Promise<Isolation> {
    const o = this.options;
    const iso = decideIsolation(o.trialUser, effectiveCaps(), process.getuid?.() ?? -1);
    if (!iso.ids) return iso;
    const trials = join(o.workDir, 'trials');
    const caches = Object.values(o.cacheEnv);
    await lockDownWorkDir(o.workDir, [trials], caches);
    for (const dir of [trials, ...caches]) {
      const bad = await unreachableAncestor(dir, iso.ids);
      if (!bad) continue;
      const why = `uid ${iso.ids.uid} cannot reach ${dir}: ${bad} is closed to it`;
      if (o.trialUser === 'auto') return { off: why };
      throw new ArswarmError(Code.FailedPrecondition, `trial isolation: ${why}`, {
        field: 'workDir',
        hint: 'use a work dir (and cache dirs) whose parents others may enter',
      });
    }
    return iso;
  }

  /** Resolves when every loop has ended (after drain()). */
  async done(): Promise<void> {
    await Promise.all(this.running);
  }

  /**
   * Stops pulling and lets current trials finish until the drain deadline;
   * trials still running then are killed and handed back as infra.
   */
  drain(timeoutMs = this.options.drainTimeoutMs): Promise<void> {
    this.drained ??= (async () => {
      if (this.lifecycle === 'stopped' || this.lifecycle === 'failed') return;
      this.lifecycle = 'draining';
      this.ladder?.close();
      for (const l of this.loops) l.stop();
      void this.beat();
      const deadline = setTimeout(() => {
        this.options.logger('warn', 'drain deadline reached; handing back running trials');
        for (const l of this.loops) l.abort();
        this.cache?.abort();
      }, timeoutMs);
      await Promise.all(this.running);
      clearTimeout(deadline);
    })();
    return this.drained;
  }

  /** Drains with no grace (running trials handed back), then disconnects. */
  async close(): Promise<void> {
    if (this.lifecycle === 'running' || this.lifecycle === 'draining') await this.drain(0);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.ladder?.close();
    if (this.nc && !this.nc.isClosed()) {
      await this.beat(WorkerState.STOPPED);
      await this.nc.drain().catch(() => undefined);
    }
    this.client?.close();
    if (this.lifecycle !== 'failed') this.lifecycle = 'stopped';
  }

  /** Current loop statuses (what the heartbeats say). */
  statuses(): LoopStatus[] {
    return this.loops.map((l) => l.status());
  }

  private async beat(force?: WorkerState): Promise<void> {
    if (!this.nc || this.nc.isClosed()) return;
    try {
      this.workersKv ??= await new Kvm(this.nc).open(this.names.workersBucket);
      await Promise.all(
        this.statuses().map((s) =>
          this.workersKv!.put(
            token(s.workerId),
            encode(WorkerHeartbeatSchema, {
              workerId: s.workerId,
              host: hostname(),
              gpuClass: s.device.gpuClass,
              gpuMemoryMb: BigInt(Math.round(s.device.memoryMb)),
              gpuIndex: s.device.gpu ? String(s.device.gpu.index) : '',
              state: force ?? s.state,
              currentTrialId: s.currentTrialId,
              progress: s.progress,
              trialsDone: BigInt(s.trialsDone),
              startedAtMs: BigInt(this.startedAtMs),
              sentAtMs: BigInt(Date.now()),
              idleSeconds: s.idleSeconds,
              pool: this.options.pool,
            }),
          ),
        ),
      );
    } catch (err) {
      this.workersKv = undefined;
      this.options.logger('debug', 'heartbeat failed', { error: ArswarmError.from(err).message });
    }
  }
}
