/** `arswarm scale N`, `arswarm pause`, `arswarm resume`: operating the swarm (admin tokens). */
import { Command, Option } from 'commander';
import { PauseResponseSchema, SetWorkersResponseSchema } from '../../gen/arswarm/v1/control_pb.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { ProgressBar, printJson } from '../output.js';

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new ArswarmError(Code.InvalidArgument, `worker count must be a whole number >= 0, not "${v}"`, {
      field: 'replicas',
    });
  return n;
}

export function scaleCommand(): Command {
  return withConnection(
    new Command('scale')
      .description('set the number of workers (local processes or a Kubernetes pool); scaling down drains')
      .argument('<n>', 'workers wanted', count)
      .option('--pool <name>', "worker pool (default: the scaler's default pool)")
      .option('--wait', 'wait until that many workers send heartbeats')
      .addOption(
        new Option('--timeout <seconds>', 'how long --wait waits')
          .default(600)
          .argParser((v) => Number.parseInt(v, 10)),
      ),
  ).action(async (n: number, opts: ConnectionFlags & { pool?: string; wait?: boolean; timeout: number }) =>
    withClient(opts, async (client) => {
      const r = await client.setWorkers({ replicas: n, pool: opts.pool ?? '' });
      if (opts.wait) {
        const bar = new ProgressBar(r.desired);
        const end = Date.now() + opts.timeout * 1000;
        try {
          for (;;) {
            const s = await client.getStatus({});
            const live = s.workers.filter((w) => !opts.pool || w.pool === opts.pool || w.pool === '').length;
            bar.update(Math.min(live, r.desired), `workers in ${r.pool}`);
            if (live === r.desired) break;
            if (Date.now() > end)
              throw new ArswarmError(
                Code.DeadlineExceeded,
                `${live} of ${r.desired} workers are live after ${opts.timeout}s`,
              );
            await new Promise((ok) => setTimeout(ok, 1000));
          }
        } finally {
          bar.done();
        }
      }
      if (opts.json) return printJson(SetWorkersResponseSchema, r);
      console.log(`pool ${r.pool}: ${r.previous} -> ${r.desired} workers`);
    }),
  );
}

export function pauseCommand(): Command {
  return withConnection(
    new Command('pause')
      .description('stop starting new candidates (trials in flight finish)')
      .option('-r, --reason <text>', 'recorded with the pause', ''),
  ).action(async (opts: ConnectionFlags & { reason: string }) =>
    withClient(opts, async (client) => {
      const r = await client.pause({ reason: opts.reason });
      if (opts.json) return printJson(PauseResponseSchema, r);
      console.log('paused: no new candidates start; trials in flight finish');
    }),
  );
}

export function resumeCommand(): Command {
  return withConnection(new Command('resume').description('start new candidates again')).action(
    async (opts: ConnectionFlags) =>
      withClient(opts, async (client) => {
        const r = await client.resume({});
        if (opts.json) return printJson(PauseResponseSchema, r);
        console.log('resumed');
      }),
  );
}
