/**
 * `npm run chaos`: a local swarm on the landscape runs a bounded search while
 * a seeded fault injector kills workers and the coordinator (-9), restarts
 * nats-server (its store survives), cuts and stalls workers' NATS and
 * CodeService connections and the control client's through TCP proxies,
 * fills a worker's disk (a small tmpfs, when run as root) and delivers
 * results twice, each fault aimed at work in flight. The run ends when the
 * coordinator says the bounded run has settled (trial budget spent, or every
 * proposer exhausted, with nothing in flight). After every coordinator
 * restart and at the end the ledger and the shared branch are audited:
 * trials lost, results counted twice, wrong merges (top-stage evidence
 * against the head merged onto, verdicts recomputed from the recorded
 * results), branch consistency, and the recovery time after each kill. A
 * run without a merge or without a fault that hit work in flight is a
 * problem: it would prove nothing.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { stringify } from 'yaml';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import { audit, branchAgreement, replay, TargetRepo } from '../coordinator/index.js';
import { loadConfig } from '../common/config-load.js';
import type { Config } from '../common/config.js';
import { startNatsServer } from '../common/nats-server.js';
import { names, type Names } from '../common/subjects.js';
import { canHit, FAULT_KINDS, inject, type FaultKind } from './chaos/faults.js';
import { SwarmProcs } from './chaos/swarm-procs.js';
import { machine, parseArgs, progress, type BenchReport } from './report.js';
import { seededRandom } from '../common/random.js';

export { FAULT_KINDS, type FaultKind } from './chaos/faults.js';

export interface ChaosOptions {
  /** The run's trial budget (max_trials); it may settle earlier when the proposers run dry. */
  trials: number;
  faults: number;
  workers: number;
  seed: number;
  /** Real seconds per simulated slot second. */
  timeScale: number;
  /** Give up after this long (the audit then counts unfinished trials as lost). */
  timeoutMs: number;
  /**
   * Longest gap between faults while trials are in flight; faults also come
   * every trials / (faults + 1) finished trials, whichever is sooner.
   * 1.5 s fits the default 100 faults into the ~160 s before the landscape's
   * knobs proposer runs dry and the run settles.
   * @default 1500
   */
  faultIntervalMs?: number;
  log?: (m: string) => void;
}

export interface ChaosResult {
  figures: Record<string, number>;
  problems: string[];
  /** Why the coordinator said the run was over (empty after a timeout). */
  settled: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ledgerEvents(nc: NatsConnection, n: Names): Promise<Event[]> {
  const events: Event[] = [];
  for await (const ev of replay(jetstream(nc), await jetstreamManager(nc), n)) events.push(ev);
  return events;
}

function chaosConfig(dir: string, o: ChaosOptions): { cfg: Config; path: string } {
  const path = join(dir, 'target', 'arswarm.yaml');
  const cfg = loadConfig(path).config;
  cfg.target.env.ARSWARM_TIME_SCALE = String(o.timeScale);
  cfg.swarm = {
    ...cfg.swarm,
    prefix: 'chaos',
    grpc_port: 0,
    http_port: 0,
    max_trials: o.trials,
    merge_policy: 'auto',
    ack_wait_seconds: 3,
    max_deliveries: 20,
  };
  writeFileSync(path, stringify(cfg));
  return { cfg, path };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? progress;
  const random = seededRandom(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-chaos-'));
  cpSync(join(import.meta.dirname, '..', 'examples', 'landscape'), join(dir, 'target'), {
    recursive: true,
    filter: (p) => !p.includes('.arswarm'),
  });
  const { cfg, path: configPath } = chaosConfig(dir, o);
  const n = names(cfg.swarm.prefix);
  const nats = await startNatsServer({ storeDir: join(dir, 'nats') });
  const procs = await SwarmProcs.create(dir, nats, configPath, cfg.swarm.prefix, log);
  const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const recoveries: number[] = [];
  const problems: string[] = [];
  const auditOptions = {
    stageNames: cfg.stages.map((s) => s.name),
    mergePolicy: 'auto' as const,
    config: cfg,
  };
  const repo = () => TargetRepo.attach(join(dir, 'state', 'repo'), cfg.swarm.branch);
  let nc: NatsConnection | undefined;
  const recentResults: Uint8Array[] = [];
  try {
    procs.startCoordinator();
    await procs.waitServing();
    const ids = Array.from({ length: o.workers }, (_, i) => `cw${i + 1}`);
    for (const id of ids) await procs.startWorker(id, 96);
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1 });
    const conn = nc;
    nc.subscribe(n.resultFinished, {
      callback: (_e, m) => {
        recentResults.push(m.data);
        if (recentResults.length > 50) recentResults.shift();
      },
    });
    const kinds = FAULT_KINDS.filter(
      (k) => k !== 'disk_full' || [...procs.workers.values()].some((w) => w.tmpfs),
    );
    if (!kinds.includes('disk_full')) log('chaos: disk_full skipped (no tmpfs: not root)');
    const every = o.trials / (o.faults + 1);
    const intervalMs = o.faultIntervalMs ?? 1500;
    let finished = 0;
    let nextFaultAt = every;
    let lastFaultAt = Date.now();
    let injected = 0;
    let inFlight = 0;
    let restarts = 0;
    let settled = '';
    let kind = pick(kinds);
    const t0 = Date.now();
    for (;;) {
      const s = await procs.client.getStatus({}, { timeoutMs: 2000 }).catch(() => undefined);
      if (s) finished = Number(s.trialsFinished);
      if (s?.settled) {
        settled = s.settled;
        break;
      }
      if (Date.now() - t0 > o.timeoutMs) {
        log('chaos: timeout');
        break;
      }
      const due = finished >= nextFaultAt || Date.now() - lastFaultAt >= intervalMs;
      const ctx = {
        procs,
        nc: conn,
        names: n,
        busy: (s?.workers ?? [])
          .filter((w) => w.currentTrialId && procs.workers.has(w.workerId))
          .map((w) => w.workerId),
        running: (s?.stages ?? []).reduce((a, st) => a + st.running, 0),
        recentResults,
        pick,
        serial: injected,
        onRecovery: async (seconds: number) => {
          recoveries.push(seconds);
          restarts++;
          // The restarted coordinator reconciled before serving: branch and ledger agree now.
          // The branch is read first (the start from the ledger names where its
          // history begins), then the ledger: a merge the coordinator makes
          // meanwhile is then in the ledger only, which ledgerMayLead allows (read
          // the other way round, it was a false disagreement).
          const start = (await ledgerEvents(conn, n)).find((e) => e.body.case === 'swarmStarted');
          const commits =
            start?.body.case === 'swarmStarted'
              ? await repo().commitsSince(start.body.value.head)
              : undefined;
          const opts = { ledgerMayLead: true };
          for (const p of await branchAgreement(await ledgerEvents(conn, n), repo(), opts, commits))
            problems.push(`after coordinator restart ${restarts}: ${p}`);
        },
      };
      // Faults only while trials are in flight, aimed at them.
      if (s && injected < o.faults && due && canHit(kind, ctx)) {
        counts[kind]++;
        injected++;
        if (await inject(kind, ctx)) inFlight++;
        lastFaultAt = Date.now();
        while (nextFaultAt <= finished) nextFaultAt += every;
        kind = pick(kinds);
        if (injected % 10 === 0) log(`chaos: ${injected} faults, ${finished} trials finished`);
      }
      await sleep(100);
    }
    if (settled) log(`chaos: settled: ${settled}`);
    // Stopped as an operator would: the coordinator drains and closes.
    await procs.stop(false);
    const events = await ledgerEvents(conn, n);
    const report = await audit(events, repo(), auditOptions);
    const merges = events.filter((e) => e.body.case === 'merged').length;
    if (merges === 0) problems.push('no merge happened: the run says nothing about merges under faults');
    if (inFlight === 0) problems.push('no fault hit a trial in flight');
    if (!settled) problems.push('the run did not settle before the timeout');
    return {
      settled,
      problems: [...report.problems, ...problems],
      figures: {
        faults: injected,
        faults_in_flight: inFlight,
        ...Object.fromEntries(FAULT_KINDS.map((k) => [`faults_${k}`, counts[k]])),
        trials: report.trials,
        finished,
        merges,
        verdicts_recomputed: report.verdictsChecked,
        coordinator_restarts: restarts,
        lost: report.lost,
        double_counted: report.doubleCounted,
        wrong_merges: report.wrongMerges,
        branch_consistent:
          report.branchConsistent && !problems.some((p) => p.startsWith('after coordinator')) ? 1 : 0,
        settled: settled ? 1 : 0,
        max_recovery_s: recoveries.length ? Math.max(...recoveries) : 0,
        wall_s: (Date.now() - t0) / 1000,
      },
    };
  } finally {
    await procs.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<BenchReport> {
  const a = parseArgs(args);
  const params = {
    trials: Number(a.trials ?? 500),
    faults: Number(a.faults ?? 100),
    workers: Number(a.workers ?? 4),
    seed: Number(a.seed ?? 1),
    timeScale: Number(a['time-scale'] ?? 0.0007),
    timeoutMs: Number(a['timeout-s'] ?? 2400) * 1000,
    faultIntervalMs: Number(a['fault-interval-s'] ?? 1.5) * 1000,
  };
  const r = await runChaos(params);
  for (const p of r.problems) progress(`chaos: PROBLEM ${p}`);
  progress(`chaos: ${r.settled ? `settled: ${r.settled}` : 'did not settle'}`);
  return { bench: 'chaos', machine: machine(), params, figures: r.figures };
}
