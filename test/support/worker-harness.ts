/**
 * Test support for the worker: a real nats-server with the swarm's streams and
 * buckets (created by the coordinator's own setup code), a real git target
 * repo, a CodeService serving bundles of it, and helpers to queue trials and
 * collect results — everything the coordinator would provide, minus its logic.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { decode, encode } from '../../common/codec.js';
import { bundleChunks } from '../../common/git-bundle.js';
import { listen, serviceDefinition, serviceHandlers } from '../../common/grpc.js';
import { sha256 } from '../../common/git.js';
import { startNatsServer, type NatsServer } from '../../common/nats-server.js';
import { ANY_GPU_CLASS, names as makeNames, type Names } from '../../common/subjects.js';
import { ensureStageConsumer, ensureSwarmStreams } from '../../coordinator/jetstream-setup.js';
import { CodeService } from '../../gen/arswarm/v1/code_pb.js';
import {
  LadderSchema,
  TrialKind,
  TrialResultSchema,
  TrialSchema,
  TrialStartedSchema,
  type TrialStarted,
  type StageSchema,
  type TargetSpecSchema,
  type TrialResult,
} from '../../gen/arswarm/v1/trial_pb.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FAKE_NVIDIA_SMI = join(ROOT, 'test', 'support', 'fake-nvidia-smi');

/** A CodeService serving bundles of one repo on a free loopback port. */
export async function startCodeServer(
  repo: string,
  onFetch?: (req: { want: string; have: string[] }) => void,
): Promise<{ addr: string; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(
    serviceDefinition(CodeService),
    serviceHandlers(CodeService, {
      fetchBundle: (req) => {
        onFetch?.({ want: req.want, have: [...req.have] });
        return bundleChunks(repo, req.want, req.have);
      },
    }),
  );
  return { addr: `127.0.0.1:${await listen(server, '127.0.0.1', 0)}`, server };
}

/** A directory holding `nvidia-smi` -> the fake, to put first on PATH. */
export function fakeGpuPath(dir: string): string {
  const bin = join(dir, 'fake-bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(FAKE_NVIDIA_SMI, join(bin, 'nvidia-smi'));
  chmodSync(FAKE_NVIDIA_SMI, 0o755);
  return bin;
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@localhost',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@localhost',
};

/** Runs git in a dir and returns trimmed stdout. */
export function gitIn(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, env: GIT_ENV, encoding: 'utf8' }).trim();
}

/** Writes files and commits them; returns the commit sha. */
export function commitFiles(repo: string, files: Record<string, string>, message = 'update'): string {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, p)), { recursive: true });
    writeFileSync(join(repo, p), text);
  }
  gitIn(repo, 'add', '-A');
  gitIn(repo, 'commit', '-q', '-m', message);
  return gitIn(repo, 'rev-parse', 'HEAD');
}

type Plain<T> = Exclude<T, { $typeName: string }>;
export type StageInit = Plain<MessageInitShape<typeof StageSchema>>;
export type TargetInit = Plain<MessageInitShape<typeof TargetSpecSchema>>;
export type TrialInit = Omit<Plain<MessageInitShape<typeof TrialSchema>>, 'target' | 'stage'> & {
  target?: TargetInit;
  stage?: StageInit;
};

export interface HarnessOptions {
  readonly stages?: StageInit[];
  readonly ackWaitMs?: number;
  readonly maxDeliveries?: number;
  /** Extra GPU classes with their own stage consumers. */
  readonly classes?: string[];
  /** Initial files of the target repo. */
  readonly files?: Record<string, string>;
}

const FIXTURE = join(ROOT, 'test', 'fixtures', 'worker-target');

/** The worker test target: `train.py` whose MODE env var picks a behaviour, and a locked `prepare.py`. */
export const DEFAULT_FILES: Record<string, string> = {
  'train.py': readFileSync(join(FIXTURE, 'train.py'), 'utf8'),
  'prepare.py': readFileSync(join(FIXTURE, 'prepare.py'), 'utf8'),
};

export class Harness {
  readonly names: Names;
  readonly repo: string;
  readonly dir: string;
  readonly fetches: { want: string; have: string[] }[] = [];
  nc!: NatsConnection;
  js!: JetStreamClient;
  jsm!: JetStreamManager;
  kv!: { workers: KV; control: KV };
  nats!: NatsServer;
  codeAddr = '';
  head = '';
  private server: grpc.Server | undefined;
  private seq = 0;

  constructor(readonly o: HarnessOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'arswarm-wtest-'));
    this.repo = join(this.dir, 'target');
    this.names = makeNames(`w${process.pid}${Math.floor(Math.random() * 1e6)}`);
  }

  get stages(): StageInit[] {
    return (
      this.o.stages ?? [
        { name: 'screen', index: 0, budgetSeconds: 1, timeoutSeconds: 20, env: { DEPTH: '4' } },
      ]
    );
  }

  async start(): Promise<this> {
    mkdirSync(this.repo, { recursive: true });
    gitIn(this.repo, 'init', '-q', '-b', 'main');
    this.head = commitFiles(this.repo, this.o.files ?? DEFAULT_FILES, 'initial');
    this.nats = await startNatsServer({ storeDir: join(this.dir, 'nats') });
    this.nc = await connect({ servers: this.nats.url });
    this.js = jetstream(this.nc);
    this.jsm = await jetstreamManager(this.nc);
    this.kv = await ensureSwarmStreams(this.nc, this.jsm, this.names);
    const ackWaitMs = this.o.ackWaitMs ?? 10_000;
    for (const s of this.stages) {
      for (const c of [ANY_GPU_CLASS, ...(this.o.classes ?? [])])
        await ensureStageConsumer(this.jsm, this.names, s.name!, ackWaitMs, c);
    }
    await this.kv.control.put(
      'ladder',
      encode(LadderSchema, {
        stages: this.stages,
        maxDeliveries: this.o.maxDeliveries ?? 5,
        ackWaitMs: BigInt(ackWaitMs),
      }),
    );
    const code = await startCodeServer(this.repo, (req) => this.fetches.push(req));
    this.codeAddr = code.addr;
    this.server = code.server;
    return this;
  }

  /** sha256 of a file at the current head of the target repo. */
  sha(file: string): string {
    return sha256(readFileSync(join(this.repo, file)));
  }

  /** A trial of the head with the default target; fields override. */
  trial(over: TrialInit & { command?: string } = {}): TrialInit & { target: TargetInit; stage: StageInit } {
    const { command, ...rest } = over;
    const id = rest.id ?? `t${++this.seq}-${Math.random().toString(36).slice(2, 8)}`;
    return {
      id,
      kind: TrialKind.CANDIDATE,
      stage: this.stages[0]!,
      parentCommit: this.head,
      seed: 7,
      gpuClass: ANY_GPU_CLASS,
      ...rest,
      target: {
        command: command ?? 'python3 train.py',
        editable: ['train.py'],
        locked: ['prepare.py'],
        protected: ['^print\\(f"val_bpb'],
        metric: 'val_bpb',
        lowerIsBetter: true,
        maxPatchBytes: 65536n,
        lockedSha256: { 'prepare.py': this.sha('prepare.py') },
        ...rest.target,
      },
    };
  }

  /** Publishes a trial to its stage queue. */
  async queue(
    t: TrialInit,
    stage = t.stage?.name ?? this.stages[0]!.name!,
    gpuClass = t.gpuClass || ANY_GPU_CLASS,
  ): Promise<string> {
    await this.js.publish(this.names.trials(stage, gpuClass), encode(TrialSchema, t));
    return t.id!;
  }

  private async resultsOn(subject: string): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    const info = await this.jsm.streams.info(this.names.resultsStream);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await this.jsm.streams.getMessage(this.names.resultsStream, { seq }).catch(() => null);
      if (m && m.subject === subject) out.push(m.data);
    }
    return out;
  }

  /** All finished results so far, read from the results stream. */
  async results(): Promise<TrialResult[]> {
    return (await this.resultsOn(this.names.resultFinished)).map((d) => decode(TrialResultSchema, d));
  }

  /** All TrialStarted reports so far. */
  async started(): Promise<TrialStarted[]> {
    return (await this.resultsOn(this.names.resultStarted)).map((d) => decode(TrialStartedSchema, d));
  }

  /** Waits until a result for every id exists; returns them by id. */
  async waitResults(ids: string[], timeoutMs = 20_000): Promise<Map<string, TrialResult>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const byId = new Map((await this.results()).map((r) => [r.trialId, r]));
      if (ids.every((i) => byId.has(i))) return byId;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for results of ${ids.filter((i) => !byId.has(i)).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Workers spawned by spawnWorker, killed by stop() if still running. */
  private readonly children: ChildProcess[] = [];

  /** Spawns `arswarm worker` as a child process (through the real CLI). */
  spawnWorker(
    id: string,
    extra: string[] = [],
    env: NodeJS.ProcessEnv = process.env,
  ): ChildProcess & { output: string[] } {
    const args = [
      join(ROOT, 'bin', 'arswarm.js'),
      'worker',
      '--nats',
      this.nats.url,
      '--code',
      this.codeAddr,
    ];
    args.push(
      '--prefix',
      this.names.prefix,
      '--work-dir',
      join(this.dir, `work-${id}`),
      '--id',
      id,
      '--heartbeat-ms',
      '200',
    );
    const child = spawn(process.execPath, [...args, ...extra], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }) as ChildProcess & {
      output: string[];
    };
    child.output = [];
    this.children.push(child);
    child.stdout?.on('data', (d: Buffer) => child.output.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => child.output.push(d.toString()));
    return child;
  }

  async stop(): Promise<void> {
    // Workers a test left running would outlive it, reconnecting forever.
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(this.children.map((c) => exited(c)));
    this.server?.forceShutdown();
    await this.nc?.close().catch(() => undefined);
    await this.nats?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves with the exit code once a child process has exited. */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

/** Polls until fn() is truthy. */
export async function until<T>(
  fn: () => Promise<T> | T,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether a pid is alive (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
