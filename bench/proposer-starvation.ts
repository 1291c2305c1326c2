/**
 * `npm run bench -- proposer-starvation [--workers 16] [--latency-s 30] [--slot-real-s 0.6]
 *   [--slots 40] [--warmup-slots 10] [--concurrency 4]`
 *
 * Worker seconds spent idle waiting for proposals, in a real local swarm
 * (nats-server, coordinator, worker processes, the landscape target) fed only
 * by the claude proposer through the local Messages-API server. Time is
 * scaled: a simulated 300 s slot lasts `slot-real-s` seconds and a simulated
 * `latency-s` conversation lasts latency-s x slot-real-s / 300 seconds; the
 * figures are reported in simulated seconds. Idle waiting is measured from
 * the ledger's trial timestamps over a window that opens `warmup-slots` after
 * every worker has started its first trial (the scheduler sizes its queues
 * from worker heartbeats, which lag while a fleet starts): idle workers
 * beyond the trials waiting in the queues (see test/support/idle-waiting.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claudeProposerSchema } from '../common/config.js';
import { until } from '../test/support/candidates.js';
import { allStartedAt, idleWaiting, trialSpans } from '../test/support/idle-waiting.js';
import { startLocalSwarm } from '../test/support/local-swarm.js';
import { scenarios, startMessagesApiServer } from '../test/support/messages-api-server.js';
import { machine, parseArgs, progress, type BenchReport } from './report.js';

const SLOT_S = 300;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export async function run(args: string[]): Promise<BenchReport> {
  const a = parseArgs(args);
  const workers = Number(a.workers ?? 16);
  const latencyS = Number(a['latency-s'] ?? 30);
  const slotReal = Number(a['slot-real-s'] ?? 0.6);
  const slots = Number(a.slots ?? 40);
  const warmup = Number(a['warmup-slots'] ?? 10);
  const concurrency = Number(a.concurrency ?? 4);
  const scale = slotReal / SLOT_S;
  const toSim = (ms: number) => ms / 1000 / scale;

  const server = await startMessagesApiServer({
    fallback: scenarios.slow(latencyS * scale * 1000, scenarios.tweak(['SEED', 'DEPTH'])),
  });
  const keyDir = mkdtempSync(join(tmpdir(), 'arswarm-bench-key-'));
  writeFileSync(join(keyDir, 'key'), 'sk-offline-bench');
  progress(
    `proposer-starvation: ${workers} workers, ${SLOT_S} s slots (${slotReal} s real), proposer ${latencyS} s`,
  );
  const swarm = await startLocalSwarm({
    example: 'landscape',
    workers,
    edit: (c) => {
      c.target.env.ARSWARM_TIME_SCALE = String(scale);
      c.swarm.prefix = 'benchstarve';
      c.swarm.workers = workers;
      c.swarm.merge_policy = 'auto';
      c.swarm.max_trials = 0;
      c.proposers = [
        claudeProposerSchema.parse({
          kind: 'claude',
          base_url: server.url,
          api_key_file: join(keyDir, 'key'),
          concurrency,
        }),
      ];
    },
  });
  try {
    const s = swarm.coordinator.ledger.state;
    const ids = Array.from({ length: workers }, (_, i) => `w${i + 1}`);
    await until(() => allStartedAt(trialSpans(s), ids) !== undefined, 180_000, 'every worker running');
    const from = allStartedAt(trialSpans(s), ids)! + warmup * slotReal * 1000;
    progress(`all ${workers} workers running; ${warmup} slots of warm-up, then ${slots} measured`);
    await new Promise((r) => setTimeout(r, Math.max(0, from - Date.now())));
    const finishedAtStart = s.finished;
    await new Promise((r) => setTimeout(r, slots * slotReal * 1000));
    const to = Date.now();
    const r = idleWaiting(trialSpans(s), ids, from, to);
    const pool = swarm.coordinator.intake.pool.stats();
    const trials = s.finished - finishedAtStart;
    progress(
      `window ${round((to - from) / 1000)} s real: ${trials} trials, idle ${round(r.idleMs / 1000, 2)} s, idle waiting ${round(r.idleWaitingMs / 1000, 3)} s (real)`,
    );
    return {
      bench: 'proposer-starvation',
      machine: machine(),
      params: {
        workers,
        slot_s: SLOT_S,
        slot_real_s: slotReal,
        proposer_latency_s: latencyS,
        proposer_latency_real_s: round(latencyS * scale, 3),
        proposer_concurrency: concurrency,
        window_slots: slots,
        warmup_slots: warmup,
        time_scale: scale,
        proposer: 'claude via the local Messages-API server',
      },
      figures: {
        worker_idle_waiting_s: round(toSim(r.idleWaitingMs)),
        workers,
        proposer_latency_s: latencyS,
        worker_idle_s: round(toSim(r.idleMs)),
        worker_time_s: round(toSim(r.workerMs)),
        window_s: round(toSim(to - from)),
        trials_in_window: trials,
        proposals_made: pool.produced,
        proposer_requests: server.requests.length,
        proposer_mean_latency_s: round(toSim(pool.meanLatencyMs)),
        proposals_buffered_at_end: pool.buffered,
      },
    };
  } finally {
    await swarm.stop();
    await server.close();
    rmSync(keyDir, { recursive: true, force: true });
  }
}
