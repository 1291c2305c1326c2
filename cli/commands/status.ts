/** `arswarm status` and `arswarm whoami`: the swarm at a glance, and who the token is. */
import { Command } from 'commander';
import { GetStatusResponseSchema, WhoAmIResponseSchema } from '../../gen/arswarm/v1/control_pb.js';
import { WorkerState } from '../../gen/arswarm/v1/trial_pb.js';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { duration, metric, printJson, table } from '../output.js';

export function statusCommand(): Command {
  return withConnection(
    new Command('status').description('show the swarm: head, trials, stages, workers'),
  ).action(async (opts: ConnectionFlags) =>
    withClient(opts, async (client) => {
      const s = await client.getStatus({});
      if (opts.json) return printJson(GetStatusResponseSchema, s);
      console.log(
        `branch ${s.branch} @ ${s.head.slice(0, 7)}  ${s.metric} ${Number.isNaN(s.headMetric) ? '(baseline)' : metric(s.headMetric)}${s.paused ? '  PAUSED' : ''}`,
      );
      console.log(
        `trials ${s.trialsFinished} finished, ${s.trialsQueued} queued, ${s.resultsPerMinute.toFixed(1)}/min | candidates ${s.candidates}, ${s.inReview} in review (${s.mergePolicy}) | merges ${s.merges} | cost $${s.costUsd.toFixed(2)}`,
      );
      console.log(
        '\n' +
          table(
            ['stage', 'queued', 'running', 'finished', 'best', 'baseline'],
            s.stages.map((st) => [
              st.name,
              st.queued,
              st.running,
              st.finished,
              metric(st.bestMetric),
              Object.entries(st.baselineMean)
                .map(([cls, m]) => `${cls} ${metric(m)}`)
                .join(', ') || '-',
            ]),
          ),
      );
      // Work no live worker can run never blocks the rest; say what it waits for.
      for (const st of s.stages) {
        if (!st.waiting && !st.waitingCandidates) continue;
        const parts = [
          st.waiting ? `${st.waiting} trial${st.waiting === 1 ? '' : 's'}` : '',
          st.waitingCandidates
            ? `${st.waitingCandidates} candidate${st.waitingCandidates === 1 ? '' : 's'}`
            : '',
        ].filter(Boolean);
        console.log(`${st.name}: ${parts.join(', ')} waiting for ${st.waitingFor}`);
      }
      // Mid-slot stops (stages with early_stop): how many, and the GPU time they gave back.
      const stopped = s.stages.filter((st) => st.stopped > 0);
      if (stopped.length)
        console.log(
          `stopped mid-slot: ${stopped
            .map((st) => `${st.name} ${st.stopped} (saved ${duration(st.stopSavedGpuSeconds)} GPU)`)
            .join(', ')}`,
        );
      for (const w of s.warnings) console.log(`warning: ${w}`);
      if (s.proposersExhausted) console.log(`proposers exhausted: ${s.proposersExhausted}`);
      const pools = s.pools.map((p) => `${p.pool} ${p.ready}/${p.desired}`).join(', ');
      console.log(
        `\nworkers ${s.workers.length}${pools ? ` (pools: ${pools})` : ''}, idle ${duration(s.workerIdleSeconds)} in total`,
      );
      if (s.workers.length)
        console.log(
          table(
            ['worker', 'class', 'state', 'trial', 'progress', 'done', 'idle'],
            s.workers.map((w) => [
              w.workerId,
              w.gpuClass,
              WorkerState[w.state]?.toLowerCase() ?? '',
              w.currentTrialId || '-',
              w.currentTrialId ? `${Math.round(w.progress * 100)}%` : '-',
              String(w.trialsDone),
              duration(w.idleSeconds),
            ]),
          ),
        );
    }),
  );
}

export function whoamiCommand(): Command {
  return withConnection(new Command('whoami').description("show the token's name and role")).action(
    async (opts: ConnectionFlags) =>
      withClient(opts, async (client) => {
        const r = await client.whoAmI({});
        if (opts.json) return printJson(WhoAmIResponseSchema, r);
        console.log(`${r.name} (${r.role})`);
      }),
  );
}
