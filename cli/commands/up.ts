/**
 * `arswarm up`: a whole local swarm — a nats-server child process (when the
 * config says `embedded`), the coordinator in this process and N local worker
 * processes — with live progress, and a clean shutdown on Ctrl-C or when a
 * bounded run settles. `arswarm demo` is `up` on the landscape example with a
 * fresh state dir, then prints the shared branch and writes results.tsv.
 * The run itself (up-run.ts) is loaded only when one of them runs.
 */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { LoadedConfig } from '../../common/config-load.js';
import type { UpOptions } from './up-run.js';

/**
 * Loads `--config` or `--example` (after installing what the example needs)
 * and the run itself; both only when the command runs.
 */
async function prepare(opts: { config?: string; example?: string }, quiet = false) {
  const [{ resolveConfigArgs }, { ensureExampleNeeds }, { runUp }] = await Promise.all([
    import('../config-args.js'),
    import('../example-needs.js'),
    import('./up-run.js'),
  ]);
  const loaded: LoadedConfig = resolveConfigArgs(opts);
  if (opts.example) ensureExampleNeeds(opts.example, (m) => quiet || console.error(m));
  return { loaded, runUp };
}

export function upCommand(): Command {
  return new Command('up')
    .description('run a local swarm: nats-server, the coordinator and N workers')
    .option('-c, --config <file>', 'arswarm.yaml')
    .option('--example <name>', 'a bundled example (landscape, tinygpt)')
    .addOption(new Option('-w, --workers <n>', 'local workers').argParser((v) => Number.parseInt(v, 10)))
    .addOption(
      new Option('--max-trials <n>', 'stop after this many trials (0 = run until Ctrl-C)').argParser((v) =>
        Number.parseInt(v, 10),
      ),
    )
    .option('--state-dir <dir>', 'state dir (default: swarm.state_dir)')
    .option('--fresh', 'wipe the state dir first')
    .option('--results <file>', 'where to write results.tsv (default: <state dir>/results.tsv)')
    .addOption(
      new Option('--grpc-port <port>', 'gRPC port (default: swarm.grpc_port)').argParser((v) =>
        Number.parseInt(v, 10),
      ),
    )
    .addOption(
      new Option('--http-port <port>', 'dashboard port (default: swarm.http_port)').argParser((v) =>
        Number.parseInt(v, 10),
      ),
    )
    .action(async (opts: { config?: string; example?: string } & UpOptions) => {
      const { loaded, runUp } = await prepare(
        opts.config || opts.example ? opts : { example: 'landscape' },
        opts.quiet,
      );
      await runUp(loaded, opts);
    });
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'a bounded local run of a bundled example (fresh state), then the shared branch log and results.tsv',
    )
    .option('--example <name>', 'bundled example', 'landscape')
    .addOption(
      new Option('-w, --workers <n>', 'local workers').default(4).argParser((v) => Number.parseInt(v, 10)),
    )
    .addOption(
      new Option('--max-trials <n>', 'trial budget').default(120).argParser((v) => Number.parseInt(v, 10)),
    )
    .action(async (opts: { example: string; workers: number; maxTrials: number }) => {
      const { loaded, runUp } = await prepare({ example: opts.example });
      await runUp(loaded, {
        workers: opts.workers,
        maxTrials: opts.maxTrials,
        stateDir: join(loaded.stateDir, 'demo'),
        fresh: true,
        results: 'results.tsv',
        grpcPort: 0,
        httpPort: 0,
      });
    });
}
