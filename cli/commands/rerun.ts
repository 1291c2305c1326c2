/** `arswarm rerun TRIAL [--wait]`: reproduce one finished trial exactly and compare the two results. */
import { Command } from 'commander';
import { GetRerunResponseSchema, type GetRerunResponse } from '../../gen/arswarm/v1/control_pb.js';
import type { TrialResult } from '../../gen/arswarm/v1/trial_pb.js';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { metric, printJson, table, word } from '../output.js';

/** How often `--wait` asks whether the rerun has finished. */
const POLL_MS = 500;

const num = (x: number | undefined, digits = 1) =>
  x !== undefined && Number.isFinite(x) ? x.toFixed(digits) : '-';

/** The two results side by side, one row per property. */
export function sideBySide(r: GetRerunResponse): string {
  const a = r.original;
  const b = r.result;
  const row = (name: string, f: (x: TrialResult) => string) => [name, a ? f(a) : '-', b ? f(b) : 'pending'];
  return table(
    ['', a?.trialId ?? 'original', r.rerun?.id ?? 'rerun'],
    [
      row('status', (x) => word.status(x.status)),
      row('metric', (x) => metric(x.metric)),
      row('training_seconds', (x) => num(x.metrics.training_seconds)),
      row('peak memory (MB)', (x) => num(x.peakMemoryMb)),
      row('worker', (x) => x.workerId || '-'),
      row('class', (x) => x.gpuClass || '-'),
      ['seed', String(r.rerun?.seed ?? '-'), String(r.rerun?.seed ?? '-')],
    ],
  );
}

export function rerunCommand(): Command {
  return withConnection(
    new Command('rerun')
      .description('reproduce a finished trial exactly (commit, patch, stage env, seed, class) and compare')
      .argument('<trial>', 'trial id')
      .option('--wait', 'wait for the rerun to finish, then print both results side by side'),
  ).action(async (trialId: string, opts: ConnectionFlags & { wait?: boolean }) =>
    withClient(opts, async (client) => {
      const { rerunTrialId } = await client.rerunTrial({ trialId });
      let r = await client.getRerun({ rerunTrialId });
      if (!opts.json) console.error(`${rerunTrialId} queued (a copy of ${trialId}, on ${r.rerun?.gpuClass})`);
      while (opts.wait && !r.result) {
        await new Promise((ok) => setTimeout(ok, POLL_MS));
        r = await client.getRerun({ rerunTrialId });
      }
      if (opts.json) return printJson(GetRerunResponseSchema, r);
      console.log(sideBySide(r));
    }),
  );
}
