/**
 * `npm run bench -- scale [--workers 1000] [--trial-s 4] [--duration-s 60] [--warmup-s 20]
 *   [--ledger-trials 100000] [--restarts 1] [--log-tail-bytes 0] [--connections N] [--depth N]
 *   [--no-fetch] [--settle]
 *   [--profile DIR] [--node-flags=FLAGS]`
 *
 * The real coordinator (a child process) and a real nats-server with many
 * simulated workers (bench/scale/sim-workers.ts: the worker protocol, no
 * training) fed by candidates submitted through the API. Reports sustained
 * results per second, dispatch latency (a worker's ack -> its next trial),
 * the coordinator's RSS and CPU, and the event log's size; then kills the
 * coordinator, grows the ledger to `ledger-trials` trials and measures how
 * long a new coordinator takes to serve GetStatus again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort, startNatsServer } from '../common/nats-server.js';
import { ANY_GPU_CLASS, names as makeNames } from '../common/subjects.js';
import { DEFAULT_SNAPSHOT_EVERY_EVENTS } from '../coordinator/index.js';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import { CoordinatorProc, type ControlClient } from './scale/coordinator-proc.js';
import { countTrials, eventsStreamSize, fillLedger, readLedger } from './scale/ledger-fill.js';
import { coresBetween, procSample, type ProcSample } from './scale/proc-stats.js';
import { SimFleet } from './scale/sim-workers.js';
import { Submitter } from './scale/submitter.js';
import { writeScaleTarget } from './scale/target.js';
import { machine, median, parseArgs, percentile, progress, type BenchReport } from './report.js';

export interface ScaleOptions {
  workers: number;
  trialS: number;
  /** Measurement window after the warm-up. */
  durationS: number;
  /** Longest warm-up (it ends earlier once every worker has finished a trial). */
  warmupS: number;
  /** Trials in the ledger at the restart (0: restart over the live run's ledger as it is). */
  ledgerTrials: number;
  connections?: number;
  /** Trials kept waiting in the lowest stage's queue. @default workers / 2 */
  depth?: number;
  fetchCode: boolean;
  /** Log tail bytes per result (a real worker sends up to 8 KiB). @default 0 */
  logTailBytes?: number;
  /** After the window: stop submitting and wait until every queued trial has its result. */
  settle?: boolean;
  /**
   * Coordinator restarts over the grown ledger; recovery_s is the median of
   * those after the first (which replays the filled tail, then snapshots). @default 2
   */
  restarts?: number;
  /** Extra node flags for the coordinator process (experiments). */
  nodeFlags?: string[];
  /** Write V8 CPU profiles of the coordinator here (it is then stopped with SIGTERM, not killed). */
  profileDir?: string;
  log?: (msg: string) => void;
}

export interface ScaleResult {
  figures: Record<string, number>;
  /** Integrity problems found when settling (lost or double-counted trials). */
  problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  const log = o.log ?? progress;
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-scale-'));
  const prefix = 'scale';
  const n = makeNames(prefix);
  const grpcPort = await freePort();
  const configPath = writeScaleTarget(join(dir, 'target'), {
    prefix,
    grpcPort,
    workers: o.workers,
    ackWaitS: 60,
  });
  const nats = await startNatsServer({ storeDir: join(dir, 'nats') });
  const coord = new CoordinatorProc({
    configPath,
    natsUrl: nats.url,
    stateDir: join(dir, 'state'),
    grpcPort,
    nodeFlags: [
      ...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : []),
      ...(o.nodeFlags ?? []),
    ],
    log,
  });
  let control: ControlClient | undefined;
  const nc = await connect({ servers: nats.url, name: 'scale-bench' });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  let fleet: SimFleet | undefined;
  let submitter: Submitter | undefined;
  const samples: ProcSample[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    coord.start();
    const firstStart = await coord.waitServing(120_000);
    const pid = coord.pid;
    control = coord.client();
    log(
      `scale: coordinator serving after ${round(firstStart, 2)} s; starting ${o.workers} simulated workers`,
    );
    sampler = setInterval(() => {
      const s = procSample(pid);
      if (s) samples.push(s);
    }, 1000);
    fleet = new SimFleet({
      natsUrl: nats.url,
      prefix,
      codeAddr: `127.0.0.1:${grpcPort}`,
      token: coord.token(),
      workers: o.workers,
      trialMs: o.trialS * 1000,
      connections: o.connections,
      fetchCode: o.fetchCode,
      logTailBytes: o.logTailBytes,
      log,
    });
    const screen = n.stageConsumer('screen', ANY_GPU_CLASS);
    submitter = new Submitter({
      client: control,
      jsm,
      stream: n.trialsStream,
      consumer: screen,
      depth: o.depth ?? Math.max(20, Math.ceil(o.workers / 2)),
      log,
    });
    const t0 = performance.now();
    await fleet.start();
    submitter.start();

    // Warm-up: until every worker has finished a trial (or the warm-up time is up).
    const warmEnd = t0 + o.warmupS * 1000;
    while (performance.now() < warmEnd) {
      const busy = new Set(fleet.trials.map((t) => t.workerId)).size;
      if (busy >= o.workers) break;
      await sleep(500);
    }
    const allStartedS = (performance.now() - t0) / 1000;
    log(`scale: warm after ${round(allStartedS)} s; measuring ${o.durationS} s`);

    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const load0 = loadavg()[0]!;
    const simCpu0 = process.cpuUsage();
    const nats0 = procSample(nats.pid);
    const w0 = performance.now();
    const status0 = await control.getStatus({}, { timeoutMs: 30_000 });
    const s0 = procSample(pid)!;
    const wall0 = Date.now();
    let lastLog = w0;
    while (performance.now() - w0 < o.durationS * 1000) {
      await sleep(1000);
      if (performance.now() - lastLog >= 10_000) {
        lastLog = performance.now();
        const acked = fleet.trials.filter((t) => t.ackedAt >= w0).length;
        log(
          `scale: ${round((lastLog - w0) / 1000)} s: ${acked} results (${round(acked / ((lastLog - w0) / 1000))}/s), ${submitter.submitted} submitted, rss ${round(samples.at(-1)?.rssMb ?? 0)} MB`,
        );
      }
    }
    const w1 = performance.now();
    const s1 = procSample(pid)!;
    const nats1 = procSample(nats.pid);
    const simCpu = process.cpuUsage(simCpu0);
    loopDelay.disable();
    const load1 = loadavg()[0]!;
    const status1 = await control.getStatus({}, { timeoutMs: 30_000 });
    const windowS = (w1 - w0) / 1000;
    const inWindow = fleet.trials.filter((t) => t.receivedAt >= w0 && t.receivedAt < w1);
    const dispatch = inWindow.filter((t) => t.dispatchMs !== undefined).map((t) => t.dispatchMs!);
    const acked = fleet.trials.filter((t) => t.ackedAt >= w0 && t.ackedAt < w1).length;
    const windowSamples = samples.filter((s) => s.atMs >= wall0);
    const depths = submitter.depths
      .filter(([at]) => at >= wall0 && at <= wall0 + windowS * 1000)
      .map(([, d]) => d);

    const problems: string[] = [];
    let settleS = 0;
    await submitter.stop();
    if (o.settle) {
      const ts = performance.now();
      log('scale: settling (no new candidates; every queued trial must finish)');
      for (;;) {
        const st = await control.getStatus({}, { timeoutMs: 30_000 });
        const active = await control.listCandidates({ states: [CandidateState.ACTIVE], pageSize: 1 });
        if (st.trialsQueued === 0n && active.candidates.length === 0) break;
        if (performance.now() - ts > 120_000) {
          problems.push(`not settled after 120 s: ${st.trialsQueued} trials queued`);
          break;
        }
        await sleep(250);
      }
      settleS = (performance.now() - ts) / 1000;
    }
    await fleet.stop();
    const rssPeak = Math.max(...samples.map((s) => s.hwmMb), s1.hwmMb);

    // The live ledger, checked: every queued trial finished exactly once (when settled).
    const events = await readLedger(js, jsm, n);
    const queued = new Set<string>();
    const finished = new Map<string, number>();
    for (const ev of events) {
      const b = ev.body;
      if (b.case === 'trialQueued') queued.add(b.value.trial!.id);
      else if (b.case === 'trialFinished')
        finished.set(b.value.result!.trialId, (finished.get(b.value.result!.trialId) ?? 0) + 1);
    }
    const lost = [...queued].filter((id) => !finished.has(id)).length;
    const doubleCounted = [...finished.values()].filter((c) => c > 1).length;
    if (o.settle && lost) problems.push(`${lost} queued trial(s) have no result`);
    if (doubleCounted) problems.push(`${doubleCounted} trial(s) finished more than once`);
    const published = new Set(fleet.resultIds);
    const missing = [...published].filter((id) => !finished.has(id)).length;
    if (o.settle && missing) problems.push(`${missing} published result(s) not in the ledger`);
    const live = countTrials(events);
    const liveSize = await eventsStreamSize(jsm, n);

    // Restart over a big ledger.
    if (o.profileDir) await coord.stop();
    else await coord.kill();
    control.close();
    clearInterval(sampler);
    sampler = undefined;
    if (o.ledgerTrials > live.trials) {
      log(`scale: growing the ledger from ${live.trials} to ${o.ledgerTrials} trials`);
      await fillLedger(js, n, events, o.ledgerTrials, log);
    }
    const size = await eventsStreamSize(jsm, n);
    const ledgerTrials = Math.max(live.trials, o.ledgerTrials);
    log(`scale: restarting the coordinator over ${size.events} events (${round(size.bytes / 2 ** 20)} MiB)`);
    // Restarts after the first are crashes too (the first one's replay wrote nothing new).
    const recoveries: number[] = [];
    /** CPU seconds the coordinator used until it served (less sensitive to other load than wall time). */
    const recoveryCpu: number[] = [];
    let restartSample: ProcSample | undefined;
    let after: Awaited<ReturnType<ControlClient['getStatus']>> | undefined;
    for (let i = 0; i < Math.max(1, o.restarts ?? 2); i++) {
      if (i > 0) {
        // A running coordinator snapshots its ledger (after a long replay at once):
        // crash it once that snapshot is written, as a crash after a while would find it.
        // Only a start that replayed at least a snapshot's worth of events writes
        // one at once; a smaller ledger (the CI-sized run) restarts by full replay.
        if (size.events - (await latestSnapshotSeq(jsm, n)) >= DEFAULT_SNAPSHOT_EVERY_EVENTS)
          await waitForSnapshot(jsm, n, size.events, 300_000);
        await coord.kill();
      }
      control.close();
      coord.start();
      recoveries.push(await coord.waitServing(300_000));
      recoveryCpu.push(procSample(coord.pid)?.cpuS ?? NaN);
      control = coord.client(60_000);
      after = await control.getStatus({});
      restartSample = procSample(coord.pid);
      log(
        `scale: restart ${i + 1}: serving after ${round(recoveries.at(-1)!, 2)} s, rss ${round(restartSample?.rssMb ?? NaN)} MB`,
      );
    }
    if (o.profileDir) await coord.stop();
    // The first start replays every event after the live run's last snapshot (the
    // filled ledger, a tail no running coordinator leaves); later ones start from
    // the snapshot the first wrote.
    const recoveryS = median(recoveries.length > 1 ? recoveries.slice(1) : recoveries);
    if (!after || Number(after.trialsFinished) < Number(status1.trialsFinished))
      problems.push(
        `after the restart ${after?.trialsFinished} trials finished, before ${status1.trialsFinished}`,
      );

    return {
      problems,
      figures: {
        workers: o.workers,
        results_per_s: round(Number(status1.trialsFinished - status0.trialsFinished) / windowS),
        acked_per_s: round(acked / windowS),
        dispatch_p50_ms: round(percentile(dispatch, 50)),
        dispatch_p99_ms: round(percentile(dispatch, 99)),
        dispatch_max_ms: round(Math.max(...dispatch)),
        coordinator_rss_mb: round(rssPeak),
        coordinator_rss_end_mb: round(s1.rssMb),
        coordinator_cpu_cores: round(coresBetween(s0, s1), 2),
        coordinator_rss_after_restart_mb: round(restartSample?.rssMb ?? NaN),
        ledger_trials: ledgerTrials,
        ledger_events: size.events,
        ledger_bytes: size.bytes,
        live_ledger_trials: live.trials,
        live_ledger_events: liveSize.events,
        live_ledger_bytes: liveSize.bytes,
        candidates: live.candidates,
        recovery_s: round(recoveryS, 2),
        recovery_max_s: round(Math.max(...recoveries), 2),
        recovery_first_s: round(recoveries[0] ?? NaN, 2),
        recovery_cpu_s: round(median(recoveryCpu), 2),
        first_start_s: round(firstStart, 2),
        all_workers_busy_s: round(allStartedS),
        window_s: round(windowS),
        window_rss_max_mb: round(Math.max(...windowSamples.map((s) => s.rssMb))),
        queue_depth_min: Math.min(...depths),
        queue_depth_median: median(depths),
        sim_cpu_cores: round((simCpu.user + simCpu.system) / 1e6 / windowS, 2),
        sim_loop_delay_p99_ms: round(loopDelay.percentile(99) / 1e6),
        nats_cpu_cores: nats0 && nats1 ? round(coresBetween(nats0, nats1), 2) : NaN,
        load_avg_1m_start: round(load0, 1),
        load_avg_1m_end: round(load1, 1),
        bundle_fetches: fleet.bundleFetches,
        submitted: submitter.submitted,
        submit_failures: submitter.failed,
        worker_errors: fleet.errors,
        settle_s: round(settleS),
        // Without --settle, queued trials still unfinished when the workers stopped are in flight, not lost.
        ...(o.settle ? { lost } : { in_flight_at_stop: lost }),
        double_counted: doubleCounted,
      },
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await submitter?.stop().catch(() => undefined);
    await fleet?.stop().catch(() => undefined);
    control?.close();
    await coord.kill().catch(() => undefined);
    await nc.close().catch(() => undefined);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<BenchReport> {
  const a = parseArgs(args);
  const o: ScaleOptions = {
    workers: Number(a.workers ?? 1000),
    trialS: Number(a['trial-s'] ?? 4),
    durationS: Number(a['duration-s'] ?? 60),
    warmupS: Number(a['warmup-s'] ?? 30),
    ledgerTrials: Number(a['ledger-trials'] ?? 100_000),
    connections: a.connections ? Number(a.connections) : undefined,
    depth: a.depth ? Number(a.depth) : undefined,
    fetchCode: a['no-fetch'] === undefined,
    logTailBytes: Number(a['log-tail-bytes'] ?? 0),
    settle: a.settle !== undefined,
    profileDir: a.profile,
    restarts: Number(a.restarts ?? 2),
    nodeFlags: a['node-flags']?.split(' ').filter(Boolean),
  };
  const r = await runScale(o);
  for (const p of r.problems) progress(`scale: PROBLEM ${p}`);
  return {
    bench: 'scale',
    machine: machine(),
    params: {
      workers: o.workers,
      trial_s: o.trialS,
      duration_s: o.durationS,
      warmup_s: o.warmupS,
      ledger_trials: o.ledgerTrials,
      restarts: o.restarts,
      connections: o.connections ?? Math.ceil(o.workers / 50),
      depth: o.depth ?? Math.max(20, Math.ceil(o.workers / 2)),
      fetch_code: o.fetchCode,
      log_tail_bytes: o.logTailBytes,
      heartbeat_ms: 2000,
      candidates: 'SubmitCandidate, one constant each, no proposers in the coordinator',
    },
    figures: r.figures,
  };
}

/** Waits until the latest ledger snapshot covers `seq`. */
/** Sequence of the latest ledger snapshot's manifest, 0 when there is none. */
async function latestSnapshotSeq(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  n: ReturnType<typeof makeNames>,
): Promise<number> {
  const m = await jsm.streams
    .getMessage(n.snapshotsStream, { last_by_subj: n.snapshotManifest })
    .catch(() => null);
  return m ? (JSON.parse(new TextDecoder().decode(m.data)) as { seq: number }).seq : 0;
}

async function waitForSnapshot(
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  n: ReturnType<typeof makeNames>,
  seq: number,
  timeoutMs: number,
): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if ((await latestSnapshotSeq(jsm, n)) >= seq) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no ledger snapshot at ${seq} after ${timeoutMs / 1000} s`);
}
