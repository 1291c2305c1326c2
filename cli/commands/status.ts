/** `arswarm status`: the swarm at a glance, over gRPC. */
import { Command } from 'commander';
import { toJson } from '@bufbuild/protobuf';
import { ControlService, GetStatusResponseSchema } from '../../gen/arswarm/v1/control_pb.js';
import { WorkerState } from '../../gen/arswarm/v1/trial_pb.js';
import { createClient } from '../../common/grpc.js';

export function statusCommand(): Command {
  return new Command('status')
    .description('show the swarm: head, trials, stages, workers')
    .option('--addr <host:port>', 'coordinator gRPC address', process.env.ARSWARM_ADDR ?? '127.0.0.1:50051')
    .option('--token <token>', 'bearer token', process.env.ARSWARM_TOKEN)
    .option('--json', 'print JSON')
    .action(async (opts: { addr: string; token?: string; json?: boolean }) => {
      const client = createClient(ControlService, opts.addr, { token: opts.token, timeoutMs: 10_000 });
      try {
        const s = await client.getStatus({});
        if (opts.json) {
          console.log(JSON.stringify(toJson(GetStatusResponseSchema, s), null, 2));
          return;
        }
        console.log(
          `branch ${s.branch} @ ${s.head.slice(0, 7)}  ${s.metric} ${Number.isNaN(s.headMetric) ? '(baseline)' : s.headMetric.toFixed(6)}`,
        );
        console.log(
          `trials ${s.trialsFinished} finished, ${s.trialsQueued} queued | candidates ${s.candidates} | merges ${s.merges} | ledger ${s.ledgerEvents} events`,
        );
        console.log('\nstage        queued  running  finished  best');
        for (const st of s.stages)
          console.log(
            `${st.name.padEnd(12)} ${String(st.queued).padStart(6)}  ${String(st.running).padStart(7)}  ${String(st.finished).padStart(8)}  ${Number.isNaN(st.bestMetric) ? '-' : st.bestMetric.toFixed(6)}`,
          );
        console.log(`\nworkers (${s.workers.length})`);
        for (const w of s.workers)
          console.log(
            `  ${w.workerId.padEnd(16)} ${w.gpuClass.padEnd(12)} ${WorkerState[w.state].toLowerCase().padEnd(9)} ${w.currentTrialId || '-'} ${w.currentTrialId ? `${Math.round(w.progress * 100)}%` : ''}`,
          );
      } finally {
        client.close();
      }
    });
}
