/**
 * Bearer tokens with roles for the control API, over gRPC and the HTTP
 * gateway alike. Tokens are held only as sha256 digests and never logged;
 * every ControlService method names the least role it needs, and a method
 * without an entry does not compile.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Metadata } from '@grpc/grpc-js';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { ControlService } from '../../gen/arswarm/v1/control_pb.js';
import { apiTokenSchema, ROLES, type ApiConfig, type ApiToken, type Role } from '../../common/config.js';
import { formatPath } from '../../common/config-load.js';
import { ArswarmError, Code } from '../../common/errors.js';
import type { CallContext } from '../../common/grpc.js';

/** Who is calling. */
export interface Identity {
  readonly name: string;
  readonly role: Role;
}

type ControlMethod = keyof (typeof ControlService)['method'];

/** The least role each method needs: viewers read and watch, reviewers decide and submit, admins operate. */
export const METHOD_ROLES: Readonly<Record<ControlMethod, Role>> = {
  getStatus: 'viewer',
  listCandidates: 'viewer',
  getCandidate: 'viewer',
  watchEvents: 'viewer',
  listReview: 'viewer',
  exportResults: 'viewer',
  getTrialLog: 'viewer',
  getReport: 'viewer',
  getProgress: 'viewer',
  whoAmI: 'viewer',
  submitCandidate: 'reviewer',
  approve: 'reviewer',
  reject: 'reviewer',
  setWorkers: 'admin',
  pause: 'admin',
  resume: 'admin',
};

/** Name of the token generated when none is configured. */
export const GENERATED_TOKEN_NAME = 'local-admin';
/** File (under the state dir) that keeps the generated token across restarts. */
export const GENERATED_TOKEN_FILE = 'admin-token';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** True when `role` may do what `needed` may. */
export function allows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

export class Authenticator {
  private readonly byDigest = new Map<string, Identity>();

  constructor(tokens: readonly ApiToken[]) {
    for (const [i, t] of tokens.entries()) {
      const d = t.sha256 ?? digest(t.token!);
      const prev = this.byDigest.get(d);
      if (prev && prev.role !== t.role)
        throw new ArswarmError(
          Code.InvalidArgument,
          `tokens[${i}] (${t.name}) repeats the token of ${prev.name} with another role`,
          { field: `api.tokens[${i}]` },
        );
      this.byDigest.set(d, { name: t.name, role: t.role });
    }
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** Resolves an `authorization` header value to an identity, or throws Unauthenticated. */
  authenticate(header: string | undefined): Identity {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m)
      throw new ArswarmError(Code.Unauthenticated, 'missing bearer token', {
        reason: 'no_token',
        hint: 'pass --token or set ARSWARM_TOKEN (the dashboard asks for it)',
      });
    const id = this.byDigest.get(digest(m[1]!));
    if (!id) throw new ArswarmError(Code.Unauthenticated, 'unknown bearer token', { reason: 'bad_token' });
    return id;
  }

  /** Authenticates and checks that the caller's role may call `method`. */
  authorize(header: string | undefined, method: ControlMethod): Identity {
    const id = this.authenticate(header);
    const needed = METHOD_ROLES[method];
    if (!allows(id.role, needed))
      throw new ArswarmError(
        Code.PermissionDenied,
        `${method} needs the ${needed} role; token ${id.name} is ${id.role}`,
        { reason: 'role' },
      );
    return id;
  }
}

/** The `authorization` value of gRPC metadata. */
export function authorizationOf(md: Metadata): string | undefined {
  const v = md.get('authorization')[0];
  return typeof v === 'string' ? v : v?.toString('utf8');
}

const identities = new WeakMap<CallContext, Identity>();

/** Remembers who a call is from (set by the auth wrapper before the handler runs). */
export function bindIdentity(ctx: CallContext, id: Identity): void {
  identities.set(ctx, id);
}

/** The caller of an authorized call; a handler reached without the auth wrapper fails closed. */
export function identityOf(ctx: CallContext): Identity {
  const id = identities.get(ctx);
  if (!id) throw new ArswarmError(Code.Internal, 'call reached a handler without authentication');
  return id;
}

/** Reads a YAML list of `{name, token | sha256, role}`; errors name the entry, never a token. */
export function loadTokensFile(path: string): ApiToken[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ArswarmError(Code.NotFound, `cannot read tokens file ${path}`, { cause: err, field: 'path' });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    // The parser's message quotes the line, which may hold a token: keep only where.
    const line = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ArswarmError(Code.InvalidArgument, `tokens file ${path} is not valid YAML${line}`, {
      reason: 'invalid_yaml',
    });
  }
  const r = z.array(apiTokenSchema).safeParse(raw ?? []);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
    throw new ArswarmError(Code.InvalidArgument, `invalid tokens file ${path}:\n${lines.join('\n')}`, {
      reason: 'invalid_tokens',
    });
  }
  return r.data;
}

export interface ResolveAuthOptions {
  api: ApiConfig;
  /** Overrides api.tokens_file (ARSWARM_TOKENS_FILE at the edge). */
  tokensFile?: string;
  /** Where a generated token is kept. */
  stateDir: string;
}

export interface ResolvedAuth {
  auth: Authenticator;
  /** Set when no token was configured and one admin token was generated (or reused). */
  generated?: { token: string; file: string };
}

/**
 * Builds the authenticator from the config and the tokens file. With no
 * tokens at all, generates one admin token into `<stateDir>/admin-token`
 * (mode 0600, reused on restart) so a local swarm is never open.
 */
export function resolveAuth(o: ResolveAuthOptions): ResolvedAuth {
  const file = o.tokensFile ?? o.api.tokens_file;
  const tokens = [...o.api.tokens, ...(file ? loadTokensFile(file) : [])];
  if (tokens.length) return { auth: new Authenticator(tokens) };
  const path = `${o.stateDir}/${GENERATED_TOKEN_FILE}`;
  let token = existsSync(path) ? readFileSync(path, 'utf8').trim() : '';
  if (token.length < 16) {
    token = `arswarm_${randomBytes(24).toString('base64url')}`;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${token}\n`, { mode: 0o600 });
  }
  return {
    auth: new Authenticator([{ name: GENERATED_TOKEN_NAME, token, role: 'admin' }]),
    generated: { token, file: path },
  };
}
