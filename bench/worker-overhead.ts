/**
 * `npm run bench -- worker-overhead [--trials N] [--history-mb M]`
 *
 * What the worker adds around a run: per trial, the time from message receipt
 * to the command's start and from the command's exit to the ack, with a warm
 * code cache and a target that exits at once; and the cold fetch of a repo
 * with a large history into an empty cache.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from '../common/grpc.js';
import { CodeService } from '../gen/arswarm/v1/code_pb.js';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { commitFiles, gitIn, Harness, startCodeServer } from '../test/support/worker-harness.js';
import { CodeCache, Worker, type TrialTimings } from '../worker/index.js';
import { machine, parseArgs, percentile, progress, type BenchReport } from './report.js';

const round = (x: number) => Math.round(x * 100) / 100;

/** The command: prints its own start time (ns since the epoch) and exits. */
const COMMAND = 'date +%s%N';

interface Sample {
  /** Message receipt -> the command process running (its own clock reading). */
  readonly startMs: number;
  /** Message receipt -> the worker handing the command to its launcher. */
  readonly handoffMs: number;
  /** Command exit -> ack confirmed. */
  readonly reportMs: number;
}

async function warmOverhead(
  h: Harness,
  trials: number,
  withPatch: boolean,
  timings: TrialTimings[],
): Promise<Sample[]> {
  const diff = withPatch ? patchOf(h) : '';
  const ids: string[] = [];
  for (let i = 0; i < trials; i++) ids.push(await h.queue(h.trial({ command: COMMAND, diff })));
  const want = new Set(ids);
  const deadline = Date.now() + 60_000 + trials * 1000;
  while (timings.filter((t) => want.has(t.trialId)).length < trials) {
    if (Date.now() > deadline) throw new Error('benchmark trials did not finish');
    await new Promise((r) => setTimeout(r, 50));
  }
  const results = await h.waitResults(ids);
  const bad = [...results.values()].filter(
    (r) => r.status !== TrialStatus.CRASH || !r.reason.includes('no metric block'),
  );
  // The command prints no metric block, so every trial must end as "crash: no metric block"; anything else means the setup broke.
  if (bad.length) throw new Error(`unexpected result: ${TrialStatus[bad[0]!.status]} ${bad[0]!.reason}`);
  return timings
    .filter((t) => want.has(t.trialId))
    .map((t) => {
      const startedNs = BigInt(results.get(t.trialId)!.logTail.trim().split('\n')[0]!);
      const startedWallMs = Number(startedNs / 1000n) / 1000;
      return {
        startMs: startedWallMs - (performance.timeOrigin + t.receivedAt),
        handoffMs: t.spawnedAt! - t.receivedAt,
        reportMs: t.ackedAt - t.exitedAt!,
      };
    });
}

function patchOf(h: Harness): string {
  commitFiles(h.repo, { 'train.py': `${DEFAULT_TRAIN}\nLR = 0.02\n` }, 'tmp');
  const diff = gitIn(h.repo, 'diff', 'HEAD~1', 'HEAD') + '\n';
  gitIn(h.repo, 'reset', '-q', '--hard', 'HEAD~1');
  return diff;
}

const DEFAULT_TRAIN = 'DEPTH = 4\nLR = 0.01';

function figures(prefix: string, xs: Sample[]): Record<string, number> {
  const start = xs.map((x) => x.startMs);
  const handoff = xs.map((x) => x.handoffMs);
  const report = xs.map((x) => x.reportMs);
  return {
    [`${prefix}start_overhead_p50_ms`]: round(percentile(start, 50)),
    [`${prefix}start_overhead_p99_ms`]: round(percentile(start, 99)),
    [`${prefix}handoff_p50_ms`]: round(percentile(handoff, 50)),
    [`${prefix}handoff_p99_ms`]: round(percentile(handoff, 99)),
    [`${prefix}report_overhead_p50_ms`]: round(percentile(report, 50)),
    [`${prefix}report_overhead_p99_ms`]: round(percentile(report, 99)),
  };
}

/** A repo whose history holds about `mb` MiB of incompressible data, in 1 MiB commits. */
function bigRepo(dir: string, mb: number): string {
  mkdirSync(dir, { recursive: true });
  gitIn(dir, 'init', '-q', '-b', 'main');
  let head = '';
  for (let i = 0; i < mb; i++) {
    writeFileSync(join(dir, `blob-${i % 8}.bin`), randomBytes(1 << 20));
    head = commitFiles(dir, { 'train.py': `${DEFAULT_TRAIN}\nSTEP = ${i}\n` }, `step ${i}`);
  }
  return head;
}

export async function run(args: string[]): Promise<BenchReport> {
  const a = parseArgs(args);
  const loadBefore = round(loadavg()[0]!);
  const trials = Number(a.trials ?? 200);
  const historyMb = Number(a['history-mb'] ?? 50);
  const h = await new Harness({
    files: { 'train.py': `${DEFAULT_TRAIN}\n`, 'prepare.py': 'VOCAB = 256\n' },
  }).start();
  const timings: TrialTimings[] = [];
  const worker = new Worker({
    natsUrl: h.nats.url,
    codeAddr: h.codeAddr,
    prefix: h.names.prefix,
    gpus: 'none',
    workDir: join(h.dir, 'work'),
    id: 'bench',
    logger: (level, msg) => level === 'error' && progress(`worker: ${msg}`),
    onTrialTimings: (t) => timings.push(t),
  });
  try {
    await worker.start();
    progress('warming the code cache');
    await warmOverhead(h, 3, true, timings);
    progress(`${trials} candidate trials (one-line patch), command \`${COMMAND}\``);
    const cand = await warmOverhead(h, trials, true, timings);
    progress(`${trials} baseline trials (no patch)`);
    const base = await warmOverhead(h, trials, false, timings);
    await worker.close();

    progress(`building a repo with ~${historyMb} MiB of history`);
    const repo = join(h.dir, 'big');
    const head = bigRepo(repo, historyMb);
    const server = await startCodeServer(repo);
    const client = createClient(CodeService, server.addr);
    const cache = new CodeCache(join(h.dir, 'cold'), client);
    await cache.init();
    progress('cold fetch');
    const t0 = performance.now();
    const info = await cache.ensure(head);
    const coldMs = performance.now() - t0;
    client.close();
    server.server.forceShutdown();
    return {
      bench: 'worker-overhead',
      machine: machine(),
      params: {
        trials,
        history_mb: historyMb,
        command: COMMAND,
        mode: 'cpu',
        code_cache: 'warm',
        // Other work on the machine shows up in the tails: say how busy it was.
        load_avg_1m_before: loadBefore,
        load_avg_1m_after: round(loadavg()[0]!),
      },
      figures: {
        ...figures('', cand),
        ...figures('baseline_', base),
        cold_fetch_ms: Math.round(coldMs),
        cold_fetch_bundle_mb: round(info.bytes / (1 << 20)),
      },
    };
  } finally {
    if (worker.state !== 'stopped') await worker.close().catch(() => undefined);
    await h.stop();
  }
}
