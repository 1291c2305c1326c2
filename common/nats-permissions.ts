/**
 * NATS users per role: what the coordinator and a worker may publish and
 * subscribe to, built from the names in subjects.ts only. `arswarm up` writes
 * them into the embedded nats-server's config; the Helm chart renders the
 * same lists (templates/_nats-permissions.tpl), and a test holds the two equal.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { errors } from '@nats-io/transport-node';
import { stringify as stringifyYaml } from 'yaml';
import { ArswarmError, Code } from './errors.js';
import type { Names } from './subjects.js';

/** Subjects one user may (allow) or may not (deny, which wins) use. */
export interface SubjectRules {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** One user's permissions, as nats-server's `permissions` block. */
export interface UserPermissions {
  readonly publish: SubjectRules;
  readonly subscribe: SubjectRules;
  /**
   * nats-server's `allow_responses: true`: the user may publish one reply to
   * the reply subject of each request it received, and to no other inbox.
   */
  readonly allowResponses?: boolean;
}

/** The roles that connect to NATS. */
export const NATS_ROLES = ['coordinator', 'worker'] as const;
export type NatsRole = (typeof NATS_ROLES)[number];

/** A NATS login. */
export interface NatsCredentials {
  readonly user: string;
  readonly password: string;
}

/** Both roles' logins. */
export type NatsUsers = Readonly<Record<NatsRole, NatsCredentials>>;

/**
 * The permissions of each role under one prefix.
 *
 * The coordinator may use everything under the prefix, its buckets and the
 * JetStream API (JetStream API subjects put the stream name in one token, which
 * a wildcard cannot match by prefix). A worker may pull and ack trials, report
 * results, write its heartbeat and read the control bucket (the ladder); it may
 * not append to the ledger, queue trials, set control flags or manage streams.
 * For mid-slot stopping it publishes live progress and answers stop requests:
 * a reply goes to the requester's `_INBOX.…` subject, which `allow_responses`
 * permits for requests the worker received only — a publish right on
 * `_INBOX.>` would let a worker forge replies to anyone's requests.
 */
export function natsPermissions(n: Names): Readonly<Record<NatsRole, UserPermissions>> {
  const kvWorkers = `KV_${n.workersBucket}`;
  const kvControl = `KV_${n.controlBucket}`;
  return {
    coordinator: {
      publish: {
        allow: [
          `${n.prefix}.>`,
          `$KV.${n.workersBucket}.>`,
          `$KV.${n.controlBucket}.>`,
          '$JS.API.>',
          `$JS.ACK.${n.trialsStream}.>`,
          `$JS.ACK.${n.resultsStream}.>`,
          `$JS.ACK.${n.eventsStream}.>`,
          `$JS.ACK.${kvWorkers}.>`,
          `$JS.ACK.${kvControl}.>`,
          '$JS.FC.>',
        ],
        deny: [],
      },
      subscribe: { allow: [`${n.prefix}.>`, '_INBOX.>'], deny: [] },
    },
    worker: {
      publish: {
        allow: [
          '$JS.API.INFO',
          `$JS.API.CONSUMER.INFO.${n.trialsStream}.*`,
          `$JS.API.CONSUMER.MSG.NEXT.${n.trialsStream}.*`,
          `$JS.ACK.${n.trialsStream}.>`,
          n.resultsAll,
          n.progressAll,
          `$KV.${n.workersBucket}.>`,
          `$JS.API.STREAM.INFO.${kvWorkers}`,
          `$JS.API.STREAM.INFO.${kvControl}`,
          `$JS.API.DIRECT.GET.${kvControl}.>`,
          `$JS.API.STREAM.MSG.GET.${kvControl}`,
          // Watching the ladder key: an ordered consumer on the control bucket.
          `$JS.API.CONSUMER.CREATE.${kvControl}`,
          `$JS.API.CONSUMER.CREATE.${kvControl}.>`,
          `$JS.API.CONSUMER.INFO.${kvControl}.*`,
          `$JS.API.CONSUMER.DELETE.${kvControl}.*`,
          `$JS.API.CONSUMER.MSG.NEXT.${kvControl}.*`,
          `$JS.FC.${kvControl}.>`,
        ],
        deny: [n.events, n.trialsAll, `$KV.${n.controlBucket}.>`],
      },
      subscribe: { allow: ['_INBOX.>', n.stopAll], deny: [] },
      allowResponses: true,
    },
  };
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: readonly string[]) => `[${xs.map(q).join(', ')}]`;

function rulesConf(r: SubjectRules): string {
  const parts = [`allow: ${list(r.allow)}`];
  if (r.deny.length) parts.push(`deny: ${list(r.deny)}`);
  return `{ ${parts.join(', ')} }`;
}

/**
 * The nats-server `authorization` block for both roles. Clients without a
 * login are refused (there is no `no_auth_user`).
 */
export function authorizationConfig(n: Names, users: NatsUsers): string {
  const perms = natsPermissions(n);
  const entries = NATS_ROLES.map((role) => {
    const p = perms[role];
    return [
      '    {',
      `      user: ${q(users[role].user)}`,
      `      password: ${q(users[role].password)}`,
      `      permissions: { publish: ${rulesConf(p.publish)}, subscribe: ${rulesConf(p.subscribe)}${p.allowResponses ? ', allow_responses: true' : ''} }`,
      '    }',
    ].join('\n');
  });
  return ['authorization {', '  users: [', ...entries, '  ]', '}'].join('\n');
}

/** Fresh random logins, one per role (letters and digits, 48 characters). */
export function generateNatsUsers(): NatsUsers {
  const pw = () => randomBytes(24).toString('hex');
  return {
    coordinator: { user: 'coordinator', password: pw() },
    worker: { user: 'worker', password: pw() },
  };
}

/**
 * Writes the logins where an operator can find them (e.g. to start another
 * worker by hand), readable by the owner only.
 */
export function writeNatsUsers(path: string, url: string, users: NatsUsers): void {
  writeFileSync(path, stringifyYaml({ url, ...users }), { mode: 0o600 });
  // writeFileSync keeps the mode of an existing file.
  chmodSync(path, 0o600);
}

/**
 * A login from `ARSWARM_NATS_USER` / `ARSWARM_NATS_PASSWORD` (both or neither):
 * how the Helm chart and `arswarm up` hand credentials to processes, never
 * through their arguments.
 */
export function natsCredentialsFromEnv(env: NodeJS.ProcessEnv): NatsCredentials | undefined {
  const user = env.ARSWARM_NATS_USER;
  const password = env.ARSWARM_NATS_PASSWORD;
  if (!user && !password) return undefined;
  if (!user || !password)
    throw new ArswarmError(
      Code.InvalidArgument,
      'set both ARSWARM_NATS_USER and ARSWARM_NATS_PASSWORD, or neither',
      { field: user ? 'ARSWARM_NATS_PASSWORD' : 'ARSWARM_NATS_USER' },
    );
  return { user, password };
}

/** nats.js connect options for a login (nothing when there is none). */
export function loginOptions(c: NatsCredentials | undefined): { user?: string; pass?: string } {
  return c ? { user: c.user, pass: c.password } : {};
}

/**
 * Explains a failed connect: a refused login is Unauthenticated and names the
 * user (never the password); anything else is Unavailable.
 */
export function natsConnectError(err: unknown, url: string, user: string | undefined): ArswarmError {
  if (err instanceof errors.AuthorizationError)
    return new ArswarmError(
      Code.Unauthenticated,
      user ? `NATS at ${url} refused the login of user "${user}"` : `NATS at ${url} requires a login`,
      { cause: err, hint: 'set ARSWARM_NATS_USER and ARSWARM_NATS_PASSWORD', reason: 'nats_auth' },
    );
  return new ArswarmError(Code.Unavailable, `cannot reach NATS at ${url}`, {
    cause: err,
    hint: 'is nats-server running?',
  });
}
