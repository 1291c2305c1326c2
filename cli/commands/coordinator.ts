/** `arswarm coordinator`: runs the coordinator alone (the Kubernetes entry point). */
import { Command } from 'commander';
import { ArswarmError, Code } from '../../common/errors.js';

export function coordinatorCommand(): Command {
  return new Command('coordinator')
    .description('run the coordinator (NATS must be reachable; see `arswarm up` for a local swarm)')
    .option('-c, --config <file>', 'arswarm.yaml', process.env.ARSWARM_CONFIG)
    .option('--example <name>', 'a bundled example instead of --config')
    .option('--nats <url>', 'NATS URL (overrides swarm.nats_url)', process.env.ARSWARM_NATS_URL)
    .option(
      '--grpc-host <host>',
      'interface for the gRPC server (overrides api.grpc_host, default 127.0.0.1; env ARSWARM_GRPC_HOST)',
      process.env.ARSWARM_GRPC_HOST,
    )
    .option('--state-dir <dir>', 'state dir (overrides swarm.state_dir)', process.env.ARSWARM_STATE_DIR)
    .option(
      '--http-host <host>',
      'interface for the dashboard, /metrics and probes',
      process.env.ARSWARM_HTTP_HOST,
    )
    .option(
      '--tokens-file <file>',
      'YAML list of {name, token, role} (overrides api.tokens_file)',
      process.env.ARSWARM_TOKENS_FILE,
    )
    .action(
      async (opts: {
        config?: string;
        example?: string;
        nats?: string;
        grpcHost?: string;
        stateDir?: string;
        httpHost?: string;
        tokensFile?: string;
      }) => {
        // Loaded here, not at the top: `arswarm --help` then loads no coordinator
        // code (the Kubernetes client alone takes longer than the whole help).
        const [
          { Coordinator, createKubernetesScaler, kubernetesScalerOptionsFromEnv },
          { natsCredentialsFromEnv },
          { resolveConfigArgs },
        ] = await Promise.all([
          import('../../coordinator/index.js'),
          import('../../common/nats-permissions.js'),
          import('../config-args.js'),
        ]);
        const loaded = resolveConfigArgs(opts);
        const natsUrl = opts.nats ?? loaded.config.swarm.nats_url;
        if (natsUrl === 'embedded')
          throw new ArswarmError(
            Code.InvalidArgument,
            'swarm.nats_url is "embedded": give --nats URL, or use `arswarm up` for a local swarm',
            {
              field: 'swarm.nats_url',
            },
          );
        // In a cluster the chart sets the namespace and the worker Deployments:
        // SetWorkers then scales them through the Kubernetes API (whose client
        // the scaler loads on first use, so only in a cluster).
        const k8s = kubernetesScalerOptionsFromEnv(process.env);
        const c = await Coordinator.start({
          config: loaded.config,
          repoDir: loaded.repoDir,
          configPath: loaded.path,
          stateDir: opts.stateDir ?? loaded.stateDir,
          natsUrl,
          // From the environment only (the chart sets them from a Secret), never a flag.
          natsCredentials: natsCredentialsFromEnv(process.env),
          grpcHost: opts.grpcHost,
          httpHost: opts.httpHost,
          tokensFile: opts.tokensFile,
          scaler: k8s && createKubernetesScaler(k8s),
        });
        // The path only: a token is never logged.
        const { generated } = c.access();
        if (generated)
          console.error(
            `[coordinator] no API tokens configured: generated an admin token in ${generated.file}`,
          );
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGTERM', stop);
          process.once('SIGINT', stop);
        });
        await c.drain();
        await c.close();
      },
    );
}
