/**
 * `npm run bench -- dutycycle [--workers 8] [--slot-s 5] [--window-s 60] [--profile DIR]`
 *
 * The fraction of a worker's wall time spent inside the training command:
 * real worker processes (`arswarm worker`) against a real coordinator and
 * nats-server, on a fake trainer that sleeps `slot-s` seconds and prints the
 * autoresearch block with its own start and end times (ms since the epoch,
 * read from bash's clock inside the command, no process forked for them). Candidates come from the knobs
 * proposer, so code fetches after merges, patches, integrity checks,
 * results and acks all happen as in a real run. Over a window that opens
 * once every worker is running, each worker's time inside the command is
 * summed (runs clipped to the window) and divided by the window.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { stringify } from 'yaml';
import { freePort, startNatsServer } from '../common/nats-server.js';
import { names as makeNames } from '../common/subjects.js';
import { TrialStatus, type TrialResult } from '../gen/arswarm/v1/trial_pb.js';
import { BIN } from './chaos/swarm-procs.js';
import { readLedger } from './scale/ledger-fill.js';
import { CoordinatorProc } from './scale/coordinator-proc.js';
import { machine, median, parseArgs, percentile, progress, type BenchReport } from './report.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/** Constants in the fake trainer. */
const KNOBS = 60;

/** The fake trainer: knobs the proposer can turn, a sleep, the metric block with its own clock readings. */
function trainer(): string {
  return [
    '#!/bin/bash',
    '# Fake trainer of `npm run bench -- dutycycle`: sleeps one slot, prints the autoresearch block.',
    // The clock is bash's own (no `date` process at either end: the bench's
    // measuring must not add forks to the gap it measures); ms since the epoch.
    't=${EPOCHREALTIME/[.,]/}; start=${t%???}',
    // Enough constants that the knobs proposer never runs out of ideas during a run.
    ...Array.from({ length: KNOBS }, (_, i) => `K${String(i).padStart(2, '0')}=0.${i + 10}`),
    'sleep "$SLOT_S"',
    'metric=$(awk -v seed="$$" \'BEGIN { srand(seed); printf "%.6f", 1 + 0.001 * rand() }\')',
    'echo "---"',
    'echo "val_bpb: $metric"',
    'echo "train_start_ms: $start"',
    't=${EPOCHREALTIME/[.,]/}; echo "train_end_ms: ${t%???}"',
    '',
  ].join('\n');
}

export async function run(args: string[]): Promise<BenchReport> {
  const a = parseArgs(args);
  const workers = Number(a.workers ?? 8);
  const slotS = Number(a['slot-s'] ?? 5);
  const windowS = Number(a['window-s'] ?? 60);
  /** Write a V8 CPU profile of the first worker here. */
  const profileDir = a.profile;
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-duty-'));
  const prefix = 'duty';
  const n = makeNames(prefix);
  const target = join(dir, 'target');
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, 'train.sh'), trainer());
  writeFileSync(join(target, 'prepare.sh'), 'VOCAB=256\n');
  const grpcPort = await freePort();
  const stage = (name: string, replicates: number, z: number, minDelta: number) => ({
    name,
    env: { DEPTH: name === 'scale' ? 8 : 4 },
    budget_seconds: slotS,
    timeout_seconds: slotS + 60,
    replicates,
    promote: { z, min_delta: minDelta },
  });
  const configPath = join(target, 'arswarm.yaml');
  writeFileSync(
    configPath,
    stringify({
      target: {
        repo: '.',
        editable: ['train.sh'],
        locked: ['prepare.sh'],
        protected: ['^echo ', '^start=', '^sleep '],
        command: 'bash train.sh',
        metric: { name: 'val_bpb', direction: 'minimize' },
        env: { SLOT_S: String(slotS) },
      },
      stages: [stage('screen', 1, 1, 0), stage('confirm', 3, 2, 0.0002), stage('scale', 2, 0, 0.0002)],
      swarm: {
        prefix,
        workers,
        merge_policy: 'auto',
        baseline_replicates: 3,
        max_trials: 0,
        grpc_port: grpcPort,
        http_port: 0,
      },
      proposers: [{ kind: 'knobs', exclude: ['SEED'], seed: 1 }],
    }),
  );
  const nats = await startNatsServer({ storeDir: join(dir, 'nats') });
  const coord = new CoordinatorProc({
    configPath,
    natsUrl: nats.url,
    stateDir: join(dir, 'state'),
    grpcPort,
    log: progress,
  });
  const procs: ChildProcess[] = [];
  const nc = await connect({ servers: nats.url });
  const loadBefore = loadavg()[0]!;
  try {
    coord.start();
    await coord.waitServing(120_000);
    progress(`dutycycle: ${workers} workers, ${slotS} s fake trainer, ${windowS} s window`);
    for (let i = 1; i <= workers; i++)
      procs.push(
        spawn(
          process.execPath,
          [
            ...(profileDir && i === 1 ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
            BIN,
            'worker',
            '--nats',
            nats.url,
            '--code',
            coord.addr,
            '--token',
            coord.token(),
            '--prefix',
            prefix,
            '--gpus',
            'none',
            '--work-dir',
            join(dir, 'workers', `w${i}`),
            '--id',
            `w${i}`,
            '--log-level',
            'info',
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        ),
      );
    // The workers' own log lines: when each acked a trial and received the next.
    const marks: { worker: string; trial: string; msg: string; at: number }[] = [];
    for (const p of procs) {
      let buf = '';
      p.stderr!.on('data', (d: Buffer) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          try {
            const j = JSON.parse(line) as {
              t: string;
              level: string;
              msg: string;
              workerId?: string;
              trialId?: string;
            };
            if (j.msg === 'trial started' || j.msg === 'trial finished')
              marks.push({
                worker: j.workerId ?? '',
                trial: j.trialId ?? '',
                msg: j.msg,
                at: Date.parse(j.t),
              });
            else if (j.level === 'warn' || j.level === 'error') progress(`[worker] ${line.slice(0, 300)}`);
          } catch {
            progress(`[worker] ${line.slice(0, 300)}`);
          }
        }
      });
    }
    // Results so far, from the ledger (as the coordinator recorded them).
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const results = async () =>
      (await readLedger(js, jsm, n)).flatMap((ev) =>
        ev.body.case === 'trialFinished' && ev.body.value.result ? [ev.body.value.result] : [],
      );
    const stamps = (r: TrialResult) => ({
      start: r.metrics.train_start_ms ?? NaN,
      end: r.metrics.train_end_ms ?? NaN,
    });
    // The window opens when every worker has started its first command.
    let t0 = NaN;
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      await sleep(1000);
      const firsts = new Map<string, number>();
      for (const r of await results()) {
        const s = stamps(r).start;
        if (Number.isFinite(s)) firsts.set(r.workerId, Math.min(firsts.get(r.workerId) ?? Infinity, s));
      }
      if (firsts.size >= workers) {
        t0 = Math.max(...firsts.values());
        break;
      }
    }
    if (!Number.isFinite(t0)) throw new Error('not every worker finished a trial within 180 s');
    const t1 = t0 + windowS * 1000;
    progress(`dutycycle: every worker running; measuring until ${new Date(t1).toISOString()}`);
    // Wait for the window to pass and the runs that straddle its end to report.
    await sleep(Math.max(0, t1 - Date.now()) + (slotS + 10) * 1000);
    const all = await results();
    const inside = new Map<string, number>();
    const insideRun = new Map<string, number>();
    const overheads: number[] = [];
    const setupMs: number[] = [];
    const reportMs: number[] = [];
    let trials = 0;
    let ok = 0;
    const byWorker = new Map<string, TrialResult[]>();
    for (const r of all) byWorker.set(r.workerId, [...(byWorker.get(r.workerId) ?? []), r]);
    for (const [w, rs] of byWorker) {
      rs.sort((x, y) => stamps(x).start - stamps(y).start);
      for (const r of rs) {
        const { start, end } = stamps(r);
        if (!Number.isFinite(start) || !Number.isFinite(end)) continue;
        const clipped = Math.max(0, Math.min(end, t1) - Math.max(start, t0));
        inside.set(w, (inside.get(w) ?? 0) + clipped);
        // The worker's own measure of the command (spawn -> exit), scaled the same way.
        const runMs = Number(r.runMs);
        insideRun.set(w, (insideRun.get(w) ?? 0) + (end > start ? (clipped * runMs) / (end - start) : 0));
        if (clipped > 0) {
          trials++;
          setupMs.push(Number(r.fetchMs + r.setupMs));
          reportMs.push(Number(r.reportMs));
          if (r.status === TrialStatus.OK) ok++;
        }
      }
      // Gaps between one command's end and the next one's start on this worker.
      for (let i = 1; i < rs.length; i++) {
        const gap = stamps(rs[i]!).start - stamps(rs[i - 1]!).end;
        if (stamps(rs[i]!).start >= t0 && stamps(rs[i]!).start <= t1 && Number.isFinite(gap))
          overheads.push(gap);
      }
    }
    if (process.env.DUTY_DEBUG)
      for (const [w, rs] of byWorker)
        progress(
          `${w}: ${rs.map((r) => `${stamps(r).start - t0}..${stamps(r).end - t0} (${r.trialId.slice(0, 24)})`).join(' ')}`,
        );
    // Between trials on one worker: its ack of one trial -> its receipt of the next.
    const between: number[] = [];
    const last = new Map<string, number>();
    for (const m of marks) {
      if (m.msg === 'trial finished') last.set(m.worker, m.at);
      else {
        const ackedAt = last.get(m.worker);
        if (ackedAt !== undefined && m.at >= t0 && m.at <= t1) between.push(m.at - ackedAt);
        last.delete(m.worker);
      }
    }
    // Around the command: its end -> the worker's ack, and the worker's receipt -> the command's start.
    const stampsOf = new Map(all.map((r) => [r.trialId, stamps(r)]));
    const exitToAck: number[] = [];
    const receiptToStart: number[] = [];
    for (const m of marks) {
      const st = stampsOf.get(m.trial);
      if (!st || m.at < t0 || m.at > t1) continue;
      if (m.msg === 'trial finished') exitToAck.push(m.at - st.end);
      else receiptToStart.push(st.start - m.at);
    }
    const span = (t1 - t0) * workers;
    const sum = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
    return {
      bench: 'dutycycle',
      machine: machine(),
      params: {
        workers,
        slot_s: slotS,
        window_s: windowS,
        trainer: "bash: sleep SLOT_S, then the metric block with its own start/end readings of bash's clock",
        proposer: 'knobs',
        load_avg_1m_before: round(loadBefore, 1),
        load_avg_1m_after: round(loadavg()[0]!, 1),
      },
      figures: {
        duty_cycle: round(sum(inside) / span),
        workers,
        slot_s: slotS,
        duty_cycle_run_ms: round(sum(insideRun) / span),
        gap_between_runs_median_ms: Math.round(median(overheads)),
        // The mean is what the duty cycle pays (a code fetch after a merge is a long gap now and then).
        gap_between_runs_mean_ms: Math.round(
          overheads.reduce((x, y) => x + y, 0) / Math.max(1, overheads.length),
        ),
        gap_between_runs_p90_ms: Math.round(percentile(overheads, 90)),
        gap_between_runs_max_ms: Math.round(Math.max(...overheads)),
        exit_to_ack_median_ms: median(exitToAck),
        ack_to_next_trial_median_ms: median(between),
        ack_to_next_trial_p90_ms: percentile(between, 90),
        receipt_to_start_median_ms: median(receiptToStart),
        worker_setup_median_ms: median(setupMs),
        worker_report_median_ms: median(reportMs),
        trials_in_window: trials,
        trials_ok: ok,
      },
    };
  } finally {
    // SIGTERM drains (a profiled worker writes its profile on the way out); SIGKILL what is left.
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null || p.signalCode !== null) return r();
            const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
            p.once('exit', () => (clearTimeout(t), r()));
            p.kill('SIGTERM');
          }),
      ),
    );
    await coord.kill();
    await nc.close().catch(() => undefined);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
