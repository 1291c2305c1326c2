/**
 * The coordinator's servers: the control plane (tokens, ControlService) on
 * gRPC next to CodeService (workers fetching a trial's code), and the HTTP
 * server (dashboard, gateway, /metrics, probes).
 */
import * as grpc from '@grpc/grpc-js';
import { CodeService } from '../gen/arswarm/v1/code_pb.js';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import type { Config } from '../common/config.js';
import { listen, serviceDefinition, serviceHandlers } from '../common/grpc.js';
import { ControlApi } from './api/index.js';
import type { ControlHost } from './api/control-service.js';
import type { BundleCache } from './bundle-cache.js';

/** Largest message sent (a code bundle chunk, a long ledger page). */
const MAX_SEND_MESSAGE_BYTES = 64 * 1024 * 1024;
/** How long open streams (WatchEvents) get to end before they are cut on close, ms. */
const SHUTDOWN_GRACE_MS = 2000;

export interface ControlServersOptions {
  config: Config;
  host: ControlHost;
  /** Where a generated token is kept. */
  stateDir: string;
  tokensFile?: string;
  /** Readiness for /readyz. */
  ready(): boolean;
  bundles: BundleCache;
  grpcHost: string;
  /** 0 = a free port. */
  grpcPort: number;
  httpHost: string;
  /** 0 = a free port. */
  httpPort: number;
}

export interface ControlServers {
  api: ControlApi;
  grpc: grpc.Server;
  grpcPort: number;
  httpPort: number;
}

/** Starts gRPC, then HTTP; a failure stops what already listens. */
export async function startControlServers(o: ControlServersOptions): Promise<ControlServers> {
  const api = new ControlApi({
    config: o.config,
    host: o.host,
    stateDir: o.stateDir,
    tokensFile: o.tokensFile,
    ready: o.ready,
  });
  const server = new grpc.Server({ 'grpc.max_send_message_length': MAX_SEND_MESSAGE_BYTES });
  server.addService(serviceDefinition(ControlService), serviceHandlers(ControlService, api.impl));
  server.addService(
    serviceDefinition(CodeService),
    // Worker tokens only: trial code on a worker host must not fetch the repo.
    serviceHandlers(
      CodeService,
      api.codeImpl((want, have) => o.bundles.fetch(want, have)),
    ),
  );
  const grpcPort = await listen(server, o.grpcHost, o.grpcPort, api.grpcCredentials());
  try {
    const httpPort = await api.startHttp(o.httpHost, o.httpPort);
    return { api, grpc: server, grpcPort, httpPort };
  } catch (err) {
    await stopControlServers({ api, grpc: server });
    throw err;
  }
}

/** Stops HTTP, then gRPC, letting calls in progress finish for a grace period. */
export async function stopControlServers(s: Pick<ControlServers, 'api' | 'grpc'>): Promise<void> {
  await s.api.close();
  // Open WatchEvents streams never end on their own: cut them after a grace period.
  const force = setTimeout(() => s.grpc.forceShutdown(), SHUTDOWN_GRACE_MS);
  await new Promise<void>((r) => s.grpc.tryShutdown(() => r()));
  clearTimeout(force);
}
