/**
 * Simulated workers: light clients that speak the real worker protocol
 * (worker/trial-loop.ts) without running anything. Each reads the ladder from
 * the control bucket, pulls one trial at a time from the stage consumers
 * (highest stage first, own class before `any`, then a long poll on the
 * lowest stage), publishes TrialStarted, "runs" for a fixed time with
 * in-progress acks, publishes its TrialResult (deduplicated by trial id),
 * and only then acks. Heartbeats go to the workers bucket. The first time a
 * worker meets a parent commit it fetches its bundle from CodeService, as a
 * worker with a cold cache does. Many workers share a few NATS connections.
 */
import { performance } from 'node:perf_hooks';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decode, encode } from '../../common/codec.js';
import { createClient } from '../../common/grpc.js';
import { pullOne, type PulledMsg } from '../../common/nats-pull.js';
import { ANY_GPU_CLASS, names as makeNames, token, type Names } from '../../common/subjects.js';
import { CodeService } from '../../gen/arswarm/v1/code_pb.js';
import {
  LadderSchema,
  TrialResultSchema,
  TrialSchema,
  TrialStartedSchema,
  TrialStatus,
  WorkerHeartbeatSchema,
  WorkerState,
  type Ladder,
  type Trial,
} from '../../gen/arswarm/v1/trial_pb.js';
import { LADDER_KEY } from '../../common/subjects.js';

/** The GPU class simulated workers report. */
export const SIM_GPU_CLASS = 'cpu';

export interface SimFleetOptions {
  natsUrl: string;
  prefix: string;
  /** CodeService address, for bundle fetches. */
  codeAddr: string;
  token?: string;
  workers: number;
  /** How long a trial "runs". */
  trialMs: number;
  /** NATS connections shared by the workers. @default ceil(workers / 50) */
  connections?: number;
  /** @default 2000 (the worker's default) */
  heartbeatMs?: number;
  /** @default 1000 (the worker's default) */
  pollExpiresMs?: number;
  /** Fetch a bundle the first time a worker meets a parent commit. @default true */
  fetchCode?: boolean;
  /**
   * Bytes of output each result carries as its log tail (a real worker sends
   * the last 8 KiB of the command's output). @default 0: just the metric block
   */
  logTailBytes?: number;
  /** The metric a trial reports. @default 1 + N(0, 0.0002) */
  metric?: (trial: Trial) => number;
  log?: (msg: string) => void;
}

/** One trial as a simulated worker saw it. */
export interface SimTrial {
  trialId: string;
  workerId: string;
  /** performance.now() when the message arrived. */
  receivedAt: number;
  /** performance.now() when the ack was confirmed. */
  ackedAt: number;
  /** Ack of this worker's previous trial -> this trial's arrival (undefined for a first trial). */
  dispatchMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function gaussian(): number {
  const u = 1 - Math.random();
  const v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Consumer existence, asked once and kept for a while (as worker/consumer-cache.ts does). */
class Consumers {
  private readonly known = new Map<string, { exists: boolean; at: number; p?: Promise<boolean> }>();
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
  ) {}
  async exists(consumer: string): Promise<boolean> {
    const hit = this.known.get(consumer);
    if (hit?.p) return hit.p;
    if (hit && Date.now() - hit.at < 10_000) return hit.exists;
    const p = this.jsm.consumers.info(this.stream, consumer).then(
      () => true,
      () => false,
    );
    this.known.set(consumer, { exists: hit?.exists ?? false, at: 0, p });
    const exists = await p;
    this.known.set(consumer, { exists, at: Date.now() });
    return exists;
  }
}

interface Conn {
  nc: NatsConnection;
  js: JetStreamClient;
  kv: KV;
  consumers: Consumers;
}

export class SimFleet {
  readonly trials: SimTrial[] = [];
  /** Trial ids each published result was for, in order (to find duplicates). */
  readonly resultIds: string[] = [];
  bundleFetches = 0;
  bundleBytes = 0;
  errors = 0;
  private readonly names: Names;
  private readonly conns: Conn[] = [];
  private ladder: Ladder | undefined;
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly code: ReturnType<typeof createClient<(typeof CodeService)['method']>>;
  private readonly log: (msg: string) => void;
  /** Progress lines before the metric block, up to logTailBytes. */
  private readonly filler: string;

  constructor(private readonly o: SimFleetOptions) {
    const line =
      'step 00042 (42.0%) | loss: 3.141593 | lrm: 1.00 | dt: 312ms | tok/sec: 104,857 | mfu: 38.2\n';
    this.filler = line.repeat(Math.ceil((o.logTailBytes ?? 0) / line.length)).slice(0, o.logTailBytes ?? 0);
    this.names = makeNames(o.prefix);
    this.code = createClient(CodeService, o.codeAddr, { token: o.token, timeoutMs: 60_000 });
    this.log = o.log ?? (() => undefined);
  }

  async start(): Promise<void> {
    const n = this.o.connections ?? Math.ceil(this.o.workers / 50);
    for (let i = 0; i < n; i++) {
      const nc = await connect({ servers: this.o.natsUrl, name: `scale-sim-${i}`, maxReconnectAttempts: -1 });
      const jsm = await jetstreamManager(nc);
      this.conns.push({
        nc,
        js: jetstream(nc),
        kv: await new Kvm(nc).open(this.names.workersBucket),
        consumers: new Consumers(jsm, this.names.trialsStream),
      });
    }
    const control = await new Kvm(this.conns[0]!.nc).open(this.names.controlBucket);
    for (;;) {
      const e = await control.get(LADDER_KEY);
      if (e && e.operation === 'PUT' && e.value.length) {
        this.ladder = decode(LadderSchema, e.value);
        break;
      }
      await sleep(200);
    }
    for (let i = 0; i < this.o.workers; i++) {
      const id = `sim${String(i + 1).padStart(4, '0')}`;
      this.loops.push(this.worker(id, this.conns[i % this.conns.length]!));
    }
  }

  /** Stops pulling; trials in progress are abandoned unacked (JetStream redelivers them). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.loops);
    for (const c of this.conns) await c.nc.drain().catch(() => undefined);
    this.code.close();
  }

  private async worker(id: string, c: Conn): Promise<void> {
    const startedAtMs = Date.now();
    const status = { state: WorkerState.IDLE, current: '', done: 0, idleMs: 0 };
    const beat = () =>
      c.kv
        .put(
          token(id),
          encode(WorkerHeartbeatSchema, {
            workerId: id,
            host: 'scale-bench',
            gpuClass: SIM_GPU_CLASS,
            state: status.state,
            currentTrialId: status.current,
            trialsDone: BigInt(status.done),
            startedAtMs: BigInt(startedAtMs),
            sentAtMs: BigInt(Date.now()),
            idleSeconds: status.idleMs / 1000,
          }),
        )
        .catch(() => this.errors++);
    // Spread the heartbeats of many workers over the period, as independent processes would be.
    const hbMs = this.o.heartbeatMs ?? 2000;
    await sleep(Math.random() * hbMs);
    void beat();
    this.timers.push(setInterval(() => void beat(), hbMs));
    const haveCommits = new Set<string>();
    let lastAckAt: number | undefined;
    while (!this.stopping) {
      const waitStart = performance.now();
      let msg: PulledMsg | null;
      try {
        msg = await this.next(c);
      } catch {
        this.errors++;
        await sleep(500);
        continue;
      }
      status.idleMs += performance.now() - waitStart;
      if (!msg) continue;
      const receivedAt = performance.now();
      if (this.stopping) {
        msg.nak();
        break;
      }
      let trial: Trial;
      try {
        trial = decode(TrialSchema, msg.data);
      } catch {
        msg.term('undecodable');
        continue;
      }
      status.state = WorkerState.RUNNING;
      status.current = trial.id;
      const ackWaitMs = Number(this.ladder?.ackWaitMs ?? 0n) || 30_000;
      const working = setInterval(() => msg.working(), Math.max(100, Math.min(ackWaitMs / 3, 10_000)));
      try {
        const startedAt = Date.now();
        c.js
          .publish(
            this.names.resultStarted,
            encode(TrialStartedSchema, {
              trialId: trial.id,
              workerId: id,
              gpuClass: SIM_GPU_CLASS,
              startedAtMs: BigInt(startedAt),
            }),
          )
          .catch(() => this.errors++);
        if (this.o.fetchCode !== false && !haveCommits.has(trial.parentCommit)) {
          await this.fetch(trial.parentCommit, [...haveCommits]);
          haveCommits.add(trial.parentCommit);
        }
        const fetchedAt = performance.now();
        await sleep(this.o.trialMs);
        if (this.stopping) {
          msg.nak();
          break;
        }
        const exitedAt = performance.now();
        const metric = this.o.metric?.(trial) ?? 1 + 0.0002 * gaussian();
        const result = encode(TrialResultSchema, {
          trialId: trial.id,
          trial,
          status: TrialStatus.OK,
          metric,
          metrics: { val_bpb: metric },
          peakMemoryMb: 100,
          fetchMs: BigInt(Math.round(fetchedAt - receivedAt)),
          runMs: BigInt(this.o.trialMs),
          logTail: this.filler + `---\nval_bpb: ${metric.toFixed(6)}\n`,
          gpuClass: SIM_GPU_CLASS,
          workerId: id,
          startedAtMs: BigInt(startedAt),
          finishedAtMs: BigInt(Date.now()),
          reportMs: BigInt(Math.round(performance.now() - exitedAt)),
        });
        await this.publishResult(c, trial.id, result);
        this.resultIds.push(trial.id);
        await msg.ackSync();
        const ackedAt = performance.now();
        this.trials.push({
          trialId: trial.id,
          workerId: id,
          receivedAt,
          ackedAt,
          dispatchMs: lastAckAt === undefined ? undefined : receivedAt - lastAckAt,
        });
        lastAckAt = ackedAt;
        status.done++;
      } catch (err) {
        this.errors++;
        this.log(`${id}: trial ${trial.id} not acked: ${(err as Error).message}`);
        lastAckAt = undefined;
      } finally {
        clearInterval(working);
        status.state = WorkerState.IDLE;
        status.current = '';
      }
    }
  }

  /** The sweep of worker/trial-loop.ts: no_wait pulls highest stage first, then a long poll on the lowest. */
  private async next(c: Conn): Promise<PulledMsg | null> {
    const stages = [...(this.ladder?.stages ?? [])]
      .filter((s) => s.minGpuMemoryMb === 0)
      .sort((a, b) => b.index - a.index);
    for (const s of stages)
      for (const cls of [ANY_GPU_CLASS, SIM_GPU_CLASS]) {
        if (this.stopping) return null;
        const consumer = this.names.stageConsumer(s.name, cls);
        if (!(await c.consumers.exists(consumer))) continue;
        const m = await pullOne(c.nc, this.names.trialsStream, consumer, { noWait: true });
        if (m) return m;
      }
    const lowest = stages.at(-1);
    const expiresMs = this.o.pollExpiresMs ?? 1000;
    if (!lowest || this.stopping) return null;
    // The coordinator pins work to a class queue; `any` only holds work queued before any worker was seen.
    const own = this.names.stageConsumer(lowest.name, SIM_GPU_CLASS);
    const consumer = (await c.consumers.exists(own))
      ? own
      : this.names.stageConsumer(lowest.name, ANY_GPU_CLASS);
    if (!(await c.consumers.exists(consumer))) {
      await sleep(expiresMs);
      return null;
    }
    return pullOne(c.nc, this.names.trialsStream, consumer, { expiresMs });
  }

  private async publishResult(c: Conn, trialId: string, data: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await c.js.publish(this.names.resultFinished, data, { msgID: `finished.${trialId}` });
        return;
      } catch (err) {
        if (attempt >= 30) throw err;
        this.errors++;
        await sleep(Math.min(200 * 2 ** attempt, 2000));
      }
    }
  }

  private async fetch(want: string, have: string[]): Promise<void> {
    for await (const chunk of this.code.fetchBundle({ want, have })) this.bundleBytes += chunk.data.length;
    this.bundleFetches++;
  }
}
