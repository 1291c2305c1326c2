/** `arswarm export`, `arswarm logs TRIAL`, `arswarm report`: what the swarm found and how well the ladder worked. */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import {
  ExportResultsResponseSchema,
  GetReportResponseSchema,
  GetTrialLogResponseSchema,
} from '../../gen/arswarm/v1/control_pb.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { duration, printJson, table, word } from '../output.js';

export function exportCommand(): Command {
  return withConnection(
    new Command('export')
      .description("results.tsv in autoresearch's columns (commit, val_bpb, memory_gb, status, description)")
      .option('--extra', "add arswarm's columns: candidate, proposer, stage, delta, sigma, n")
      .option('-o, --output <file>', 'write to a file instead of stdout'),
  ).action(async (opts: ConnectionFlags & { extra?: boolean; output?: string }) =>
    withClient(opts, async (client) => {
      const r = await client.exportResults({ extra: opts.extra ?? false });
      if (opts.output) {
        try {
          writeFileSync(opts.output, r.tsv);
        } catch (err) {
          throw new ArswarmError(Code.InvalidArgument, `cannot write ${opts.output}`, {
            cause: err,
            field: 'output',
          });
        }
        if (opts.json) return console.log(JSON.stringify({ output: opts.output, rows: r.rows }));
        return console.error(`${r.rows} rows written to ${opts.output}`);
      }
      if (opts.json) return printJson(ExportResultsResponseSchema, r);
      process.stdout.write(r.tsv);
    }),
  );
}

export function logsCommand(): Command {
  return withConnection(
    new Command('logs')
      .description("a trial's log tail, as its worker reported it")
      .argument('<trial>', 'trial id'),
  ).action(async (trialId: string, opts: ConnectionFlags) =>
    withClient(opts, async (client) => {
      const r = await client.getTrialLog({ trialId });
      if (opts.json) return printJson(GetTrialLogResponseSchema, r);
      if (!r.finished) {
        console.error(
          `${trialId} has not finished${r.workerId ? ` (running on ${r.workerId})` : ' (queued)'}: no log yet`,
        );
        return;
      }
      console.error(
        `${trialId}: ${word.status(r.status)} on ${r.workerId}${r.stage ? ` at ${r.stage}` : ''}${r.reason ? ` (${r.reason})` : ''}`,
      );
      process.stdout.write(r.logTail.endsWith('\n') ? r.logTail : `${r.logTail}\n`);
    }),
  );
}

const num = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

export function reportCommand(): Command {
  return withConnection(
    new Command('report').description('how well small runs predicted larger ones, what each stage cost'),
  ).action(async (opts: ConnectionFlags) =>
    withClient(opts, async (client) => {
      const r = await client.getReport({});
      if (opts.json) return printJson(GetReportResponseSchema, r);
      console.log(
        `candidates ${r.candidates} (${r.merged} merged, ${r.refused} refused) | compute ${duration(r.gpuSeconds)} | LLM $${r.costUsd.toFixed(2)} | improvement ${num(r.improvement, 6)}`,
      );
      console.log(
        '\n' +
          table(
            ['stage', 'judged', 'promoted', 'rejected', 'crashed', 'trials', 'compute'],
            r.stages.map((s) => [
              s.name,
              s.judged,
              s.promoted,
              s.rejected,
              s.crashed,
              s.trials,
              duration(s.gpuSeconds),
            ]),
          ),
      );
      if (r.pairs.length)
        console.log(
          '\n' +
            table(
              ['rungs', 'n', 'spearman Δ', 'promoted', 'held up'],
              r.pairs.map((p) => [
                `${p.lower} -> ${p.upper}`,
                p.n,
                num(p.spearman),
                p.promoted,
                p.promoted ? `${p.heldUp} (${Math.round((100 * p.heldUp) / p.promoted)}%)` : '-',
              ]),
            ),
        );
    }),
  );
}
