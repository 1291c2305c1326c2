/**
 * `npm run bench -- snapshot-block [--trials 100000]`
 *
 * How long writing a ledger snapshot holds the coordinator's event loop: a
 * seeded ledger state of `trials` trials (test/support/ledger-events.ts, every
 * kind of fact), serialized the blocking way (serializeState) and the way the
 * snapshotter does it (serializeStateAsync: a copy, then encoding in slices),
 * while a timer measures the longest stretch the loop did not run.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { deserializeState, LedgerState, serializeState, serializeStateAsync } from '../coordinator/index.js';
import { ledgerEvents, STAGES } from '../test/support/ledger-events.js';
import { machine, parseArgs, progress, type BenchReport } from './report.js';

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** The longest the event loop was held while `fn` ran, and how long `fn` took. */
async function held(fn: () => unknown): Promise<{ blockMs: number; wallMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  // The histogram counts gaps between its own timer's runs: let it run once first.
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  // Let the histogram see the last stretch.
  await new Promise((r) => setTimeout(r, 5));
  h.disable();
  return { blockMs: h.max / 1e6, wallMs };
}

export async function run(args: string[]): Promise<BenchReport> {
  const a = parseArgs(args);
  const want = Number(a.trials ?? 100_000);
  const s = new LedgerState(STAGES);
  // About 30% of the generated events queue a trial.
  let n = Math.ceil(want / 0.3);
  for (;;) {
    const evs = ledgerEvents(n, 1);
    for (const ev of evs) s.apply(ev);
    if (s.trials.size >= want) break;
    s.trials.clear();
    n = Math.ceil(n * 1.1);
  }
  progress(`snapshot-block: ${s.trials.size} trials, ${s.events} events`);
  // The sliced way first: the blocking run's garbage would otherwise be collected inside its slices.
  let maxSlice = 0;
  let asyncBytes: Uint8Array = new Uint8Array();
  const async = await held(async () => {
    const r = await serializeStateAsync(s);
    asyncBytes = r.data;
    maxSlice = r.maxBlockMs;
  });
  let bytes = 0;
  const sync = await held(() => (bytes = serializeState(s).length));
  if (!Buffer.from(asyncBytes).equals(Buffer.from(serializeState(s))))
    throw new Error('the sliced encoding differs from the blocking one');
  if (deserializeState(asyncBytes, STAGES)?.trials.size !== s.trials.size)
    throw new Error('the snapshot does not read back');
  return {
    bench: 'snapshot-block',
    machine: machine(),
    params: { trials: s.trials.size, events: s.events },
    figures: {
      snapshot_mib: round(bytes / 2 ** 20),
      blocking_write_ms: round(sync.wallMs),
      blocking_write_block_ms: round(sync.blockMs),
      snapshot_write_ms: round(async.wallMs),
      snapshot_write_block_ms: round(async.blockMs),
      snapshot_write_slice_max_ms: round(maxSlice),
    },
  };
}
