/**
 * The coordinator process: wires the ledger, the repo, the scheduler, the
 * gRPC services and the results consumer. All state changes run one at a
 * time through `serial`, so the ledger is appended in a consistent order.
 */
import { dirname, join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

import { ArswarmError } from '../common/errors.js';
import { bundleChunks } from '../common/git-bundle.js';
import { loginOptions, natsConnectError } from '../common/nats-permissions.js';
import { dedupeIds, names as makeNames, type Names } from '../common/subjects.js';
import type { ControlApi } from './api/index.js';
import {
  resolveCoordinatorOptions,
  secretPaths,
  type ResolvedCoordinatorOptions,
  type CoordinatorAccess,
  type CoordinatorOptions,
  type CoordinatorState,
} from './coordinator-options.js';
import { BundleCache } from './bundle-cache.js';
import type { Intake, Submission } from './intake/index.js';
import { keepJournalCurrent } from './journal-file.js';
import { ensureSwarmStreams, type SwarmStreams } from './jetstream-setup.js';
import { openJetStreamLedger, startSnapshots } from './ledger/jetstream-ledger.js';
import type { Ledger } from './ledger/ledger.js';
import type { LedgerSnapshotter } from './ledger/snapshots.js';
import { reconcileAtStart } from './branch-reconcile.js';
import { Mutex } from './mutex.js';
import { TargetRepo } from './repo.js';
import type { WorkerScaler } from './scaler.js';
import { Pusher } from './pusher.js';
import { rerunOf } from './rerun.js';
import { resultsTsv } from './results-tsv.js';
import { runSummary, type RunSummary } from './run-summary.js';
import { startTeam, type Team } from './team/index.js';
import { ResultsLoop } from './results-loop.js';
import type { Scheduler } from './scheduler.js';
import { Stopper } from './early-stop/stopper.js';
import type { GamingAudit } from './gaming-audit/index.js';
import { fleetOf } from './fleet.js';
import { FleetNotices, stallSignals } from './fleet-notices.js';
import { startControlServers, stopControlServers, type ControlServers } from './control-servers.js';
import { stageWarnings, waitingWork, type StageWaiting } from './waiting.js';
import { checkTargetContent } from './target-check.js';
import { buildDecisionParts } from './decision-parts.js';
import { TrialFactory } from './trial-factory.js';
import { publishLadder, TrialQueues } from './trial-queues.js';
import { WorkersView } from './workers-view.js';

export { JOURNAL_DEBOUNCE_MS } from './journal-file.js';
export type { CoordinatorAccess, CoordinatorOptions, CoordinatorState } from './coordinator-options.js';

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
  private queues!: TrialQueues;
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
  private servers?: ControlServers;
  private results?: ResultsLoop;
  /** Stops losing candidate trials mid-slot (stages with early_stop). */
  stopper?: Stopper;
  private timer?: NodeJS.Timeout;
  private readonly serial = new Mutex();
  /** Writes ledger snapshots, so a restart replays only the events after the latest. */
  private snapshotter?: LedgerSnapshotter;
  /** Bundles for CodeService, shared by workers that ask for the same commit. */
  private readonly bundles = new BundleCache((want, have) => bundleChunks(this.repo.dir, want, have));
  private readonly log: (msg: string) => void;
  private settledResolve?: () => void;
  /** Resolves when a bounded run (max_trials) has settled. */
  readonly settled: Promise<void>;
  /** Why the bounded run settled (trial budget spent, proposers exhausted); empty before. */
  settledReason = '';
  /** Logs stage warnings and proposer exhaustion once per change. */
  private readonly notices: FleetNotices;

  private readonly o: ResolvedCoordinatorOptions;

  private constructor(options: CoordinatorOptions) {
    const o = (this.o = resolveCoordinatorOptions(options));
    this.names = makeNames(o.config.swarm.prefix);
    this.log = o.log;
    this.notices = new FleetNotices(this.log);
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
    // The repo's git processes run while the ledger loads (they are forked
    // before the loaded state has grown the heap, and use the other core).
    const [repo, opened] = await Promise.all([
      TargetRepo.open({
        sourceDir: this.o.repoDir,
        stateDir: this.o.stateDir,
        branch: config.swarm.branch,
        base: config.target.base,
        exclude: secretPaths(this.o),
      }),
      openJetStreamLedger(this.js, this.jsm, this.names, config, this.o.snapshots, this.log),
    ]);
    this.repo = repo;
    this.ledger = opened.ledger;
    this.snapshotter = opened.snapshotter;
    // After a crash between a merge commit and its event, the ledger and the shared branch agree again.
    await reconcileAtStart(this.ledger, this.repo, config, this.log);
    await checkTargetContent(config, this.repo, await this.repo.head());
    const factory = new TrialFactory(config, this.repo);
    const ackWaitMs = config.swarm.ack_wait_seconds * 1000;
    this.queues = new TrialQueues(this.js, this.jsm, this.names, ackWaitMs);
    await this.queues.ensureAll(factory.stages, config.swarm.gpu_classes);
    await publishLadder(this.kv.control, factory.stages, config);
    const parts = buildDecisionParts({
      config,
      repo: this.repo,
      ledger: this.ledger,
      factory,
      workers: this.workers,
      extraProposers: this.o.proposers,
      env: this.o.env,
      exclusive: (fn) => this.exclusive(fn),
      publish: (t) => this.queues.publish(t),
      log: this.log,
    });
    this.intake = parts.intake;
    this.audit = parts.audit;
    this.scheduler = parts.scheduler;
    const writeJournal = keepJournalCurrent(
      join(this.o.stateDir, 'journal.md'),
      this.ledger,
      config,
      this.log,
    );
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
      signals: () => stallSignals(this.stageWarnings(), this.settledReason, this.scheduler.limitReached()),
    });
    await this.workers.start(this.kv.workers);
    await this.intake.start();
    this.servers = await startControlServers({
      config,
      host: this,
      stateDir: this.o.stateDir,
      tokensFile: this.o.tokensFile,
      ready: () => this.state === 'running',
      bundles: this.bundles,
      grpcHost: this.o.grpcHost,
      grpcPort: this.o.grpcPort,
      httpHost: this.o.httpHost,
      httpPort: this.o.httpPort,
    });
    ({ api: this.api, grpcPort: this.grpcPort, httpPort: this.httpPort } = this.servers);
    const scaler = this.o.scaler;
    this.workerScaler = typeof scaler === 'function' ? scaler(this.access()) : scaler;
    this.state = 'running';
    writeJournal();
    startSnapshots(opened, this.o.snapshots);
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
    this.results = new ResultsLoop({
      js: this.js,
      names: this.names,
      ledger: this.ledger,
      exclusive: (fn) => this.exclusive(fn),
      onCandidateResult: (cid) => this.scheduler.onCandidateResult(cid),
      log: this.log,
    });
    void this.results.run();
    this.timer = setInterval(() => void this.tick(), this.o.tickMs);
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

  private async tick(): Promise<void> {
    if (this.state !== 'running') return;
    await this.serial
      .run(() => this.scheduler.tick())
      .catch((err: unknown) => this.log(`tick failed: ${ArswarmError.from(err).message}`));
    this.notices.note(this.stageWarnings(), this.proposersExhausted(), this.ledger.state.head);
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
      await this.queues.publish(t);
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
    await this.results?.close();
    await this.serial.run(async () => undefined);
    if (this.servers) await stopControlServers(this.servers);
    await this.team?.close().catch(() => undefined);
    await this.snapshotter?.close();
    await this.nc?.drain().catch(() => undefined);
    await this.repo?.close().catch(() => undefined);
  }
}
