/**
 * The coordinator process: wires the ledger, the repo, the scheduler, the
 * gRPC services and the results consumer. All state changes run one at a
 * time through `serial`, so the ledger is appended in a consistent order.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

import { CodeService } from '../gen/arswarm/v1/code_pb.js';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import { LadderSchema, TrialSchema, type Trial } from '../gen/arswarm/v1/trial_pb.js';
import { encode } from '../common/codec.js';
import type { Config } from '../common/config.js';
import { ArswarmError } from '../common/errors.js';
import { sha256 } from '../common/git.js';
import { bundleChunks } from '../common/git-bundle.js';
import { listen, serviceDefinition, serviceHandlers } from '../common/grpc.js';
import { loginOptions, natsConnectError, type NatsCredentials } from '../common/nats-permissions.js';
import { ANY_GPU_CLASS, dedupeIds, LADDER_KEY, names as makeNames, type Names } from '../common/subjects.js';
import { ControlApi } from './api/index.js';
import { BundleCache } from './bundle-cache.js';
import { Intake, type Submission } from './intake/index.js';
import { journalMarkdown } from './journal.js';
import { ensureStageConsumer, ensureSwarmStreams, type SwarmStreams } from './jetstream-setup.js';
import { jetStreamStore, type Ledger } from './ledger/ledger.js';
import { ensureSnapshotsStream, jetStreamSnapshots } from './ledger/snapshot-store.js';
import {
  DEFAULT_SNAPSHOT_EVERY_EVENTS,
  LedgerSnapshotter,
  openLedger,
  type SnapshotOptions,
} from './ledger/snapshots.js';
import { Merger } from './merger.js';
import { recoverMerges } from './branch-reconcile.js';
import { Mutex } from './mutex.js';
import { buildProposers } from './proposers/index.js';
import type { Proposer } from './proposers/proposer.js';
import { TargetRepo } from './repo.js';
import type { WorkerScaler } from './scaler.js';
import { Pusher } from './pusher.js';
import { rerunOf } from './rerun.js';
import { resultsTsv } from './results-tsv.js';
import { runSummary, type RunSummary } from './run-summary.js';
import { startTeam, type Team } from './team/index.js';
import { MAX_REPORT_BATCH, recordReports, type ReportOutcome } from './trial-reports.js';
import { Scheduler } from './scheduler.js';
import { Stopper } from './early-stop/stopper.js';
import { buildAuditor, GamingAudit } from './gaming-audit/index.js';
import { fleetOf } from './fleet.js';
import { stageWarnings, waitingWork, type StageWaiting } from './waiting.js';
import { checkTargetContent } from './target-check.js';
import { TrialFactory } from './trial-factory.js';
import { WorkersView } from './workers-view.js';

/** Longest delay before journal.md reflects a decision. */
export const JOURNAL_DEBOUNCE_MS = 2000;

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

export class Coordinator {
  state: CoordinatorState = 'starting';
  grpcPort = 0;
  httpPort = 0;
  /** Tokens, the ControlService and the HTTP server (dashboard, gateway, /metrics). */
  api!: ControlApi;
  readonly names: Names;
  private nc!: NatsConnection;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private kv!: SwarmStreams;
  ledger!: Ledger;
  repo!: TargetRepo;
  scheduler!: Scheduler;
  intake!: Intake;
  /** The top-stage gaming audit (rules, and the LLM auditor when configured). */
  audit!: GamingAudit;
  readonly workers = new WorkersView();
  /** Changes the worker count (local processes or a Kubernetes Deployment): the `scaler` option. */
  private workerScaler?: WorkerScaler;
  /** Pushes the shared branch after merges when swarm.push_remote is set. */
  pusher?: Pusher;
  /** Review branches, pull requests and webhook notices, when the config asks for them. */
  team?: Team;
  private server?: grpc.Server;
  private results?: ConsumerMessages;
  /** Stops losing candidate trials mid-slot (stages with early_stop). */
  stopper?: Stopper;
  private timer?: NodeJS.Timeout;
  private readonly serial = new Mutex();
  /** Writes ledger snapshots, so a restart replays only the events after the latest. */
  private snapshotter?: LedgerSnapshotter;
  /** Events the start replayed (after the snapshot it loaded, if any). */
  private replayedAtStart = 0;
  /** Bundles for CodeService, shared by workers that ask for the same commit. */
  private readonly bundles = new BundleCache((want, have) => bundleChunks(this.repo.dir, want, have));
  private readonly consumers = new Set<string>();
  private readonly log: (msg: string) => void;
  private settledResolve?: () => void;
  /** Resolves when a bounded run (max_trials) has settled. */
  readonly settled: Promise<void>;
  /** Why the bounded run settled (trial budget spent, proposers exhausted); empty before. */
  settledReason = '';
  /** Stages no live worker can run, last logged (so each change is logged once). */
  private warned = '';
  /** Head and reason of the proposer exhaustion last logged. */
  private exhaustedLogged = '';

  private constructor(private readonly o: CoordinatorOptions) {
    this.names = makeNames(o.config.swarm.prefix);
    this.log = o.log ?? ((m) => console.error(`[coordinator] ${m}`));
    this.settled = new Promise((r) => (this.settledResolve = r));
  }

  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    const c = new Coordinator(options);
    try {
      await c.init();
    } catch (err) {
      c.state = 'failed';
      await c.close().catch(() => undefined);
      throw err;
    }
    return c;
  }

  private async init(): Promise<void> {
    const { config } = this.o;
    this.nc = await connect({
      servers: this.o.natsUrl,
      name: 'arswarm-coordinator',
      maxReconnectAttempts: -1,
      ...loginOptions(this.o.natsCredentials),
    }).catch((err: unknown) => {
      throw natsConnectError(err, this.o.natsUrl, this.o.natsCredentials?.user);
    });
    this.js = jetstream(this.nc);
    this.jsm = await jetstreamManager(this.nc);
    this.kv = await ensureSwarmStreams(this.nc, this.jsm, this.names, config.swarm.stream_replicas);
    // The repo first: its git processes fork faster before the replay has grown the heap.
    this.repo = await TargetRepo.open({
      sourceDir: this.o.repoDir,
      stateDir: this.o.stateDir,
      branch: config.swarm.branch,
      base: config.target.base,
      // Never into the shared branch (which every trial checks out): files that may hold secrets.
      exclude: [
        this.o.stateDir,
        ...(this.o.configPath ? [this.o.configPath] : []),
        ...[this.o.tokensFile, config.api.tokens_file, config.api.tls_key_file].filter(
          (f): f is string => !!f,
        ),
        ...config.proposers.flatMap((p) => (p.kind === 'claude' && p.api_key_file ? [p.api_key_file] : [])),
      ],
    });
    const stageNames = config.stages.map((s) => s.name);
    await ensureSnapshotsStream(this.jsm, this.names, config.swarm.stream_replicas);
    const events = jetStreamStore(this.js, this.jsm, this.names);
    const snapshots = jetStreamSnapshots(this.js, this.jsm, this.names);
    const opened = await openLedger(events, stageNames, snapshots);
    if (opened.rejected) this.log(`${opened.rejected}: replayed the whole ledger`);
    this.ledger = opened.ledger;
    this.replayedAtStart = opened.replayed;
    this.snapshotter = new LedgerSnapshotter(
      this.ledger,
      events,
      snapshots,
      opened.snapshotSeq,
      this.o.snapshots ?? {},
      this.log,
    );
    await this.reconcileBranch();
    await checkTargetContent(config, this.repo, await this.repo.head());
    const factory = new TrialFactory(config, this.repo);
    const ackWaitMs = config.swarm.ack_wait_seconds * 1000;
    // Every queue a KEDA trigger can name exists from the start: a missing
    // consumer reads to KEDA as the stream's whole history and pins the pool at max.
    for (const s of factory.stages)
      for (const cls of [ANY_GPU_CLASS, ...config.swarm.gpu_classes]) await this.ensureConsumer(s.name, cls);
    await this.kv.control.put(
      LADDER_KEY,
      encode(LadderSchema, {
        stages: factory.stages,
        maxDeliveries: config.swarm.max_deliveries,
        ackWaitMs: BigInt(ackWaitMs),
      }),
    );
    const proposers: Proposer[] = [
      ...buildProposers(config, { env: this.o.env ?? process.env, log: this.log }),
      ...(this.o.proposers ?? []),
    ];
    // Proposers run in the background; failures are recorded in turn with the scheduler.
    this.intake = new Intake(config, this.repo, this.ledger, proposers, this.log, {
      exclusive: (fn) => this.exclusive(fn),
      workerCount: () => Math.max(this.workers.live().length, config.swarm.workers),
      wanted: () => !this.ledger.state.paused && !this.scheduler.limitReached(),
    });
    this.audit = new GamingAudit({
      config,
      ledger: this.ledger,
      repo: this.repo,
      exclusive: (fn) => this.exclusive(fn),
      auditor: buildAuditor(config, { env: this.o.env ?? process.env }),
      log: this.log,
    });
    this.scheduler = new Scheduler({
      config,
      audit: this.audit,
      ledger: this.ledger,
      factory,
      merger: new Merger(this.repo, config),
      intake: this.intake,
      publish: (t) => this.publishTrial(t),
      fleet: () => fleetOf(this.workers.live()),
      fleetWarm: () => this.workers.warm(),
      proposersExhausted: () => this.proposersExhausted(),
      workerCount: () => Math.max(this.workers.live().length, 1),
      log: this.log,
    });
    this.writeJournalOnChange();
    if (config.swarm.push_remote) {
      const pusher = new Pusher(this.repo, config.swarm.push_remote, this.log);
      this.pusher = pusher;
      this.ledger.onEvent((ev) => ev.body.case === 'merged' && pusher.request());
    }
    this.team = startTeam({
      config,
      repo: this.repo,
      ledger: this.ledger,
      baseDir: this.o.configPath ? dirname(this.o.configPath) : undefined,
      log: this.log,
      signals: () => [
        ...this.stageWarnings().map((text) => ({ kind: 'stalled' as const, text })),
        ...(this.settledReason
          ? [
              {
                kind: this.scheduler.limitReached() ? ('budget_exhausted' as const) : ('stalled' as const),
                text: `settled: ${this.settledReason}`,
              },
            ]
          : []),
      ],
    });
    await this.workers.start(this.kv.workers);
    await this.intake.start();
    this.api = new ControlApi({
      config,
      host: this,
      stateDir: this.o.stateDir,
      tokensFile: this.o.tokensFile,
      ready: () => this.state === 'running',
    });
    await this.startGrpc();
    this.httpPort = await this.api.startHttp(
      this.o.httpHost ?? config.api.http_host,
      this.o.httpPort ?? config.swarm.http_port,
    );
    const scaler = this.o.scaler;
    this.workerScaler = typeof scaler === 'function' ? scaler(this.access()) : scaler;
    this.state = 'running';
    this.snapshotter.start();
    // A long replay now makes a snapshot due at once: the next start should not repeat it.
    if (this.replayedAtStart >= (this.o.snapshots?.everyEvents ?? DEFAULT_SNAPSHOT_EVERY_EVENTS))
      void this.snapshotter.maybe(true);
    if (Stopper.wanted(config)) {
      this.stopper = new Stopper({
        config,
        nc: this.nc,
        names: this.names,
        ledger: this.ledger,
        exclusive: (fn) => this.exclusive(fn),
        classOf: (id) => this.workers.live().find((w) => w.workerId === id)?.gpuClass,
        log: this.log,
        idleMs: ackWaitMs,
      });
      this.stopper.start();
    }
    void this.consumeResults();
    this.timer = setInterval(() => void this.tick(), this.o.tickMs ?? 250);
    this.log(
      `running: branch ${config.swarm.branch} at ${this.ledger.state.head.slice(0, 7)}, ${this.ledger.state.events} ledger events replayed, gRPC on ${this.grpcPort}, HTTP on ${this.httpPort}`,
    );
  }

  /** What changes the worker count, if anything (the `scaler` option). */
  get scaler(): WorkerScaler | undefined {
    return this.workerScaler;
  }

  /** Replaces the scaler of a running coordinator (a test that starts without one, then adds it). */
  useScaler(scaler: WorkerScaler | undefined): void {
    this.workerScaler = scaler;
  }

  /** Ports, TLS and the tokens a local client or worker needs. */
  access(): CoordinatorAccess {
    return {
      grpcPort: this.grpcPort,
      httpPort: this.httpPort,
      tls: this.api.tlsEnabled,
      workerToken: this.api.workerToken,
      generated: this.api.generated,
    };
  }

  /** The run's figures now (what `arswarm up` prints). */
  summary(): RunSummary {
    return runSummary(this.ledger.state, {
      liveWorkers: this.workers.live().length,
      settledReason: this.settledReason,
    });
  }

  /** results.tsv of every finished trial (the autoresearch-style table). */
  resultsTsv(): string {
    return resultsTsv(this.ledger.state);
  }

  /** The shared branch's history, newest first, one `<short sha> <subject>` line per commit. */
  branchLog(): Promise<string> {
    return this.repo.raw(['log', '--format=%h %s', this.ledger.state.head]);
  }

  /**
   * Keeps `<stateDir>/journal.md` (the research log people open) current:
   * rewritten at most every JOURNAL_DEBOUNCE_MS after a decision changes it.
   */
  private writeJournalOnChange(): void {
    const path = join(this.o.stateDir, 'journal.md');
    let timer: NodeJS.Timeout | undefined;
    const write = () => {
      timer = undefined;
      void writeFile(
        path,
        journalMarkdown(this.ledger.state, {
          metric: this.o.config.target.metric.name,
          lowerIsBetter: this.o.config.target.metric.direction === 'minimize',
          limit: 500,
        }),
      ).catch((err: unknown) => this.log(`cannot write ${path}: ${(err as Error).message}`));
    };
    write();
    this.ledger.onEvent((ev) => {
      const c = ev.body.case;
      if (c === 'trialQueued' || c === 'trialStarted' || c === 'trialFinished' || timer) return;
      timer = setTimeout(write, JOURNAL_DEBOUNCE_MS);
      timer.unref();
    });
  }

  /** Makes the ledger and the shared branch agree after a crash between a merge commit and its event. */
  private async reconcileBranch(): Promise<void> {
    const s = this.ledger.state;
    const gitHead = await this.repo.head();
    if (!s.head) {
      await this.ledger.append({
        case: 'swarmStarted',
        value: {
          branch: this.o.config.swarm.branch,
          head: gitHead,
          configSha256: sha256(JSON.stringify(this.o.config)),
        },
      });
      return;
    }
    for (const id of await recoverMerges(this.ledger, this.repo))
      this.log(
        `recovered merge of ${id} (${this.ledger.state.candidates.get(id)?.mergedCommit.slice(0, 7)}) after a restart`,
      );
  }

  private async ensureConsumer(stage: string, gpuClass: string): Promise<void> {
    const key = `${stage}/${gpuClass}`;
    if (this.consumers.has(key)) return;
    await ensureStageConsumer(
      this.jsm,
      this.names,
      stage,
      this.o.config.swarm.ack_wait_seconds * 1000,
      gpuClass,
    );
    this.consumers.add(key);
  }

  private async publishTrial(t: Trial): Promise<void> {
    const stage = t.stage?.name ?? '';
    await this.ensureConsumer(stage, t.gpuClass);
    await this.js.publish(this.names.trials(stage, t.gpuClass), encode(TrialSchema, t), { msgID: t.id });
  }

  private async startGrpc(): Promise<void> {
    const server = new grpc.Server({ 'grpc.max_send_message_length': 64 * 1024 * 1024 });
    server.addService(serviceDefinition(ControlService), serviceHandlers(ControlService, this.api.impl));
    server.addService(
      serviceDefinition(CodeService),
      // Worker tokens only: trial code on a worker host must not fetch the repo.
      serviceHandlers(
        CodeService,
        this.api.codeImpl((want, have) => this.bundles.fetch(want, have)),
      ),
    );
    this.grpcPort = await listen(
      server,
      this.o.grpcHost ?? this.o.config.api.grpc_host,
      this.o.grpcPort ?? this.o.config.swarm.grpc_port,
      this.api.grpcCredentials(),
    );
    this.server = server;
  }

  private async tick(): Promise<void> {
    if (this.state !== 'running') return;
    await this.serial
      .run(() => this.scheduler.tick())
      .catch((err: unknown) => this.log(`tick failed: ${ArswarmError.from(err).message}`));
    this.logFleetChanges();
    const why = this.scheduler.stopReason();
    if (why && !this.settledReason) {
      this.settledReason = why;
      this.log(`settled: ${why} and nothing is in flight; ${this.ledger.state.finished} trials`);
      this.settledResolve?.();
    }
  }

  /**
   * Why no proposer will offer anything more at the current head (each is
   * exhausted or over budget, nothing buffered or in progress), or undefined.
   */
  proposersExhausted(): string | undefined {
    return this.intake.pool.exhausted(this.ledger.state.head);
  }

  /** Stages no live worker can run, for status pages (empty until the fleet view is warm). */
  stageWarnings(): string[] {
    return this.workers.warm() ? stageWarnings(this.scheduler.stages, fleetOf(this.workers.live())) : [];
  }

  /** Candidates whose scheduling step keeps failing (retried every tick), for status warnings. */
  schedulingErrors(): string[] {
    return this.scheduler.schedulingErrors();
  }

  /** Work no live worker can run, per stage (empty until the fleet view is warm). */
  waitingWork(): ReadonlyMap<string, StageWaiting> {
    return this.workers.warm()
      ? waitingWork(this.ledger.state, this.scheduler.stages, fleetOf(this.workers.live()))
      : new Map();
  }

  /** Logs a stage that no live worker can run, and proposer exhaustion, once per change. */
  private logFleetChanges(): void {
    const warnings = this.stageWarnings();
    const key = warnings.join('\n');
    if (key !== this.warned) {
      for (const w of warnings) this.log(`warning: ${w}`);
      if (!key && this.warned) this.log('every stage has a live worker that can run it again');
      this.warned = key;
    }
    // Once per head: an exhausted proposer is asked again now and then, which
    // briefly makes it not exhausted without anything having changed.
    const exhausted = this.proposersExhausted();
    const at = exhausted && `${this.ledger.state.head}|${exhausted}`;
    if (at && at !== this.exhaustedLogged) {
      this.log(`proposers exhausted: ${exhausted}`);
      this.exhaustedLogged = at;
    }
  }

  private async consumeResults(): Promise<void> {
    const consumer = await this.js.consumers.get(this.names.resultsStream, this.names.resultsConsumer);
    const results = (this.results = await consumer.consume({ max_messages: MAX_REPORT_BATCH }));
    const batch: JsMsg[] = [];
    for await (const m of results) {
      batch.push(m);
      // Reports that have already arrived are recorded together.
      if (batch.length < MAX_REPORT_BATCH && results.getPending() > 0) continue;
      const msgs = batch.splice(0);
      const outcomes = await this.serial
        .run(() =>
          recordReports(msgs, {
            ledger: this.ledger,
            names: this.names,
            onCandidateResult: (cid) => this.scheduler.onCandidateResult(cid),
            log: this.log,
          }),
        )
        .catch((err: unknown): ReportOutcome[] => {
          this.log(`result handling failed, will retry: ${ArswarmError.from(err).message}`);
          return msgs.map(() => 'nak');
        });
      msgs.forEach((m, i) => {
        const o = outcomes[i];
        if (o === 'ack') m.ack();
        else if (o === 'term') m.term();
        else m.nak(1000);
      });
    }
  }

  /**
   * Runs a state change in turn with the scheduler and result handling. Every
   * caller that appends to the ledger from outside (API handlers, tests) goes
   * through here.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial.run(fn);
  }

  /** Validates and records a person's (or an API client's) candidate; resolves to its id. */
  submit(s: Submission): Promise<string> {
    return this.exclusive(() => this.intake.submit(s));
  }

  /** Queues an exact copy of a finished trial (`arswarm rerun`); resolves to the rerun's id. */
  rerun(trialId: string, by: string): Promise<string> {
    return this.exclusive(async () => {
      const t = rerunOf(this.ledger.state, trialId, Date.now());
      await this.publishTrial(t);
      await this.ledger.append({ case: 'trialQueued', value: { trial: t } }, dedupeIds.trialQueued(t.id));
      this.log(`rerun of ${trialId} queued as ${t.id} on ${t.gpuClass} by ${by}`);
      return t.id;
    });
  }

  /** A review decision (approve merges). */
  decide(candidateId: string, approve: boolean, note: string, reviewer: string): Promise<void> {
    return this.exclusive(() => this.scheduler.decide(candidateId, approve, note, reviewer));
  }

  /** Pause or resume new candidates. */
  setPaused(paused: boolean, by: string, reason = ''): Promise<void> {
    return this.exclusive(() => this.scheduler.setPaused(paused, by, reason));
  }

  /** Stops taking new work decisions; in-flight trials stay queued for the next start. */
  async drain(): Promise<void> {
    this.state = 'draining';
    if (this.timer) clearInterval(this.timer);
    await this.intake?.close();
    await this.serial.run(async () => undefined);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.state !== 'failed') this.state = 'stopped';
    this.workers.stop();
    await this.intake?.close();
    this.audit?.close();
    await this.stopper?.close();
    await this.results?.close().catch(() => undefined);
    await this.serial.run(async () => undefined);
    await this.api?.close();
    if (this.server) {
      // Open WatchEvents streams never end on their own: cut them after a grace period.
      const server = this.server;
      const force = setTimeout(() => server.forceShutdown(), 2000);
      await new Promise<void>((r) => server.tryShutdown(() => r()));
      clearTimeout(force);
    }
    await this.team?.close().catch(() => undefined);
    await this.snapshotter?.close();
    await this.nc?.drain().catch(() => undefined);
    await this.repo?.close().catch(() => undefined);
  }
}
