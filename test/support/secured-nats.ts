/**
 * Test support: a nats-server with the per-role logins `arswarm up` gives its
 * embedded server (common/nats-permissions.ts), the swarm's streams, one stage
 * consumer and the ladder set up through the coordinator login, and the
 * server's log for permission violations.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decode, encode } from '../../common/codec.js';
import { startNatsServer, type NatsServer } from '../../common/nats-server.js';
import {
  authorizationConfig,
  generateNatsUsers,
  type NatsRole,
  type NatsUsers,
} from '../../common/nats-permissions.js';
import { names as makeNames, type Names } from '../../common/subjects.js';
import {
  ensureStageConsumer,
  ensureSwarmStreams,
  type SwarmStreams,
} from '../../coordinator/jetstream-setup.js';
import { LadderSchema, TrialResultSchema, type TrialResult } from '../../gen/arswarm/v1/trial_pb.js';
import type { StageInit } from './worker-harness.js';

export const SCREEN: StageInit = { name: 'screen', index: 0, budgetSeconds: 1, timeoutSeconds: 20, env: {} };

export interface SecuredNats {
  readonly server: NatsServer;
  readonly users: NatsUsers;
  readonly names: Names;
  /** The coordinator login's connection. */
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly kv: SwarmStreams;
  /** Connects with a role's login (or a given password). */
  login(role: NatsRole, password?: string): Promise<NatsConnection>;
  /** Lines of the server log reporting a refused publish or subscription. */
  violations(): string[];
  /** Finished results so far, read from the results stream. */
  results(): Promise<TrialResult[]>;
  stop(): Promise<void>;
}

export async function startSecuredNats(dir: string, prefix: string, stage = SCREEN): Promise<SecuredNats> {
  const names = makeNames(prefix);
  const users = generateNatsUsers();
  const logFile = join(dir, 'nats.log');
  const server = await startNatsServer({
    storeDir: join(dir, 'nats'),
    extraConfig: [authorizationConfig(names, users), `log_file: ${JSON.stringify(logFile)}`].join('\n'),
  });
  const login = (role: NatsRole, password = users[role].password) =>
    connect({ servers: server.url, user: users[role].user, pass: password, maxReconnectAttempts: 0 });
  const nc = await login('coordinator');
  const jsm = await jetstreamManager(nc);
  const kv = await ensureSwarmStreams(nc, jsm, names);
  await ensureStageConsumer(jsm, names, stage.name!, 10_000);
  await kv.control.put(
    'ladder',
    encode(LadderSchema, { stages: [stage], maxDeliveries: 5, ackWaitMs: 10_000n }),
  );
  return {
    server,
    users,
    names,
    nc,
    js: jetstream(nc),
    jsm,
    kv,
    login,
    violations: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => /(Publish|Subscription) Violation/.test(l)),
    async results() {
      const out: TrialResult[] = [];
      const info = await jsm.streams.info(names.resultsStream);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage(names.resultsStream, { seq }).catch(() => null);
        if (m?.subject === names.resultFinished) out.push(decode(TrialResultSchema, m.data));
      }
      return out;
    },
    async stop() {
      await nc.close().catch(() => undefined);
      await server.stop();
    },
  };
}
