/**
 * `npm run chaos`: a local swarm on the landscape runs a bounded search while
 * a seeded fault injector kills workers and the coordinator (-9), restarts
 * nats-server (its store survives), cuts and stalls workers' connections
 * through TCP proxies, fills a worker's disk (a small tmpfs, when run as root)
 * and delivers results twice. At the end the ledger and the shared branch are
 * audited: trials lost, results counted twice, wrong merges, branch
 * consistency, and the recovery time after each coordinator kill.
 */
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { stringify } from 'yaml';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import { audit } from '../coordinator/audit.js';
import { replay } from '../coordinator/ledger/ledger.js';
import { TargetRepo } from '../coordinator/repo.js';
import { loadConfig } from '../common/config-load.js';
import { freePort, startNatsServer } from '../common/nats-server.js';
import { names } from '../common/subjects.js';
import { fillDisk, SwarmProcs } from './chaos/swarm-procs.js';
import { machine, parseArgs, progress, type BenchReport } from './report.js';
import { seededRandom } from '../common/random.js';

export const FAULT_KINDS = [
  'worker_kill',
  'coordinator_kill',
  'nats_restart',
  'worker_cut',
  'worker_stall',
  'disk_full',
  'duplicate_delivery',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosOptions {
  trials: number;
  faults: number;
  workers: number;
  seed: number;
  /** Real seconds per simulated slot second. */
  timeScale: number;
  /** Give up after this long (the audit then counts unfinished trials as lost). */
  timeoutMs: number;
  log?: (m: string) => void;
}

export interface ChaosResult {
  figures: Record<string, number>;
  problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? progress;
  const random = seededRandom(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-chaos-'));
  const prefix = 'chaos';
  cpSync(join(import.meta.dirname, '..', 'examples', 'landscape'), join(dir, 'target'), {
    recursive: true,
    filter: (p) => !p.includes('.arswarm'),
  });
  const configPath = join(dir, 'target', 'arswarm.yaml');
  const cfg = loadConfig(configPath).config;
  const grpcPort = await freePort();
  cfg.target.env.ARSWARM_TIME_SCALE = String(o.timeScale);
  cfg.swarm = {
    ...cfg.swarm,
    prefix,
    grpc_port: grpcPort,
    http_port: 0,
    max_trials: o.trials,
    merge_policy: 'auto',
    ack_wait_seconds: 3,
    max_deliveries: 20,
  };
  writeFileSync(configPath, stringify(cfg));
  const nats = await startNatsServer({ storeDir: join(dir, 'nats') });
  const procs = new SwarmProcs(dir, nats, configPath, grpcPort, prefix, log);
  const counts = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const recoveries: number[] = [];
  let nc: NatsConnection | undefined;
  const recentResults: Uint8Array[] = [];
  try {
    procs.startCoordinator();
    await procs.waitServing();
    const ids = Array.from({ length: o.workers }, (_, i) => `cw${i + 1}`);
    for (const id of ids) await procs.startWorker(id, 96);
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1 });
    const n = names(prefix);
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
    let finished = 0;
    let nextFaultAt = o.trials / (o.faults + 1);
    let injected = 0;
    const t0 = Date.now();
    for (;;) {
      const s = await procs.client.getStatus({}, { timeoutMs: 2000 }).catch(() => undefined);
      if (s) finished = Number(s.trialsFinished);
      if (s && finished >= o.trials && s.trialsQueued === 0n) {
        const active = await procs.client
          .listCandidates({ states: [CandidateState.ACTIVE] })
          .catch(() => undefined);
        if (active && active.candidates.length === 0 && injected >= o.faults) break;
      }
      if (Date.now() - t0 > o.timeoutMs) {
        log('chaos: timeout');
        break;
      }
      // Keep injecting until the asked number of faults, spread over the run.
      if (injected < o.faults && (finished >= nextFaultAt || finished >= o.trials)) {
        const kind = pick(kinds);
        counts[kind]++;
        injected++;
        nextFaultAt += o.trials / (o.faults + 1);
        const w = procs.workers.get(pick(ids))!;
        switch (kind) {
          case 'worker_kill':
            await procs.killWorker(w.id);
            setTimeout(() => void procs.startWorker(w.id, 96), 300);
            break;
          case 'coordinator_kill': {
            await procs.killCoordinator();
            procs.startCoordinator();
            recoveries.push(await procs.waitServing());
            break;
          }
          case 'nats_restart':
            await nats.kill();
            await sleep(200);
            await nats.restart();
            break;
          case 'worker_cut':
            w.proxy.cut();
            break;
          case 'worker_stall':
            w.proxy.stall(4000);
            break;
          case 'disk_full': {
            const tmpfsWorker = [...procs.workers.values()].find((x) => x.tmpfs)!;
            const filler = fillDisk(tmpfsWorker.workDir);
            setTimeout(() => {
              try {
                unlinkSync(filler);
              } catch {
                // already gone
              }
            }, 1500);
            break;
          }
          case 'duplicate_delivery': {
            const data = recentResults.length ? pick(recentResults) : undefined;
            if (data)
              await jetstream(nc)
                .publish(n.resultFinished, data, { msgID: `chaos-dup-${injected}` })
                .catch(() => undefined);
            break;
          }
        }
        if (injected % 10 === 0) log(`chaos: ${injected} faults, ${finished} trials finished`);
      }
      await sleep(100);
    }
    await procs.stop();
    const events: Event[] = [];
    for await (const ev of replay(jetstream(nc), await jetstreamManager(nc), n)) events.push(ev);
    const repo = TargetRepo.attach(join(dir, 'state', 'repo'), cfg.swarm.branch);
    const report = await audit(events, repo, {
      stageNames: cfg.stages.map((s) => s.name),
      mergePolicy: 'auto',
    });
    const merges = events.filter((e) => e.body.case === 'merged').length;
    return {
      problems: report.problems,
      figures: {
        faults: injected,
        ...Object.fromEntries(FAULT_KINDS.map((k) => [`faults_${k}`, counts[k]])),
        trials: report.trials,
        finished,
        merges,
        lost: report.lost,
        double_counted: report.doubleCounted,
        wrong_merges: report.wrongMerges,
        branch_consistent: report.branchConsistent ? 1 : 0,
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
    timeoutMs: Number(a['timeout-s'] ?? 1800) * 1000,
  };
  const r = await runChaos(params);
  for (const p of r.problems) progress(`chaos: PROBLEM ${p}`);
  return { bench: 'chaos', machine: machine(), params, figures: r.figures };
}
