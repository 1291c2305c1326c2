/**
 * Bearer tokens with roles for the control API, over gRPC and the HTTP
 * gateway alike, and for CodeService (worker tokens). Tokens are held only
 * as sha256 digests and never logged; every ControlService and CodeService
 * method names the roles it admits, and a method without an entry does not compile.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Metadata } from '@grpc/grpc-js';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import type { CodeService } from '../../gen/arswarm/v1/code_pb.js';
import type { ControlService } from '../../gen/arswarm/v1/control_pb.js';
import {
  apiTokenSchema,
  ROLES,
  type ApiConfig,
  type ApiToken,
  type Role,
  type TokenRole,
} from '../../common/config.js';
import { formatPath } from '../../common/config-load.js';
import { ArswarmError, Code } from '../../common/errors.js';
import type { CallContext } from '../../common/grpc.js';

/** Who is calling. */
export interface Identity {
  readonly name: string;
  readonly role: TokenRole;
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
  rerunTrial: 'reviewer',
  getRerun: 'viewer',
  setWorkers: 'admin',
  pause: 'admin',
  resume: 'admin',
};

type CodeMethod = keyof (typeof CodeService)['method'];

/**
 * The roles each CodeService method admits: workers, and admins (to debug a
 * fetch by hand). Viewers and reviewers see diffs through the control API,
 * not whole trees; a worker token calls nothing of the control API.
 */
export const CODE_METHOD_ROLES: Readonly<Record<CodeMethod, readonly TokenRole[]>> = {
  fetchBundle: ['worker', 'admin'],
};

/** Name of the token generated when none is configured. */
export const GENERATED_TOKEN_NAME = 'local-admin';
/** File (under the state dir) that keeps the generated token across restarts. */
export const GENERATED_TOKEN_FILE = 'admin-token';
/** Name of the worker token generated (or read from api.worker_token_file). */
export const WORKER_TOKEN_NAME = 'workers';
/** File (under the state dir) that keeps a generated worker token across restarts. */
export const GENERATED_WORKER_TOKEN_FILE = 'worker-token';

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** True when `role` may do what `needed` may (a worker token may do nothing of the control API). */
export function allows(role: TokenRole, needed: Role): boolean {
  const have = (ROLES as readonly string[]).indexOf(role);
  return have >= 0 && have >= ROLES.indexOf(needed);
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

  /** Authenticates a CodeService call and checks that the caller's role is admitted. */
  authorizeCode(header: string | undefined, method: CodeMethod): Identity {
    let id: Identity;
    try {
      id = this.authenticate(header);
    } catch (err) {
      const e = ArswarmError.from(err);
      throw new ArswarmError(e.code, `CodeService: ${e.message}`, {
        reason: e.reason,
        hint: 'a worker needs the worker token (--token-file or ARSWARM_WORKER_TOKEN)',
      });
    }
    const admitted = CODE_METHOD_ROLES[method];
    if (!admitted.includes(id.role))
      throw new ArswarmError(
        Code.PermissionDenied,
        `CodeService.${method} admits ${admitted.join(' or ')} tokens; token ${id.name} is ${id.role}`,
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
  /** The worker token in clear when the coordinator knows it (file, generated, or a plain entry), for local workers. */
  workerToken?: string;
  /** Set when no worker token was configured and one was generated (or reused). */
  generatedWorker?: { token: string; file: string };
}

/** A token kept in `<stateDir>/<name>` (mode 0600), made on first use and reused on restart. */
function keptToken(stateDir: string, name: string): { token: string; file: string } {
  const file = `${stateDir}/${name}`;
  let token = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (token.length < 16) {
    token = `arswarm_${randomBytes(24).toString('base64url')}`;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
  }
  return { token, file };
}

/** The token in a file (a mounted Secret); errors name the file, never the content. */
function readTokenFile(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ArswarmError(Code.NotFound, `cannot read api.worker_token_file ${path}`, {
      cause: err,
      field: 'api.worker_token_file',
    });
  }
  if (token.length < 16)
    throw new ArswarmError(
      Code.InvalidArgument,
      `the worker token in ${path} is shorter than 16 characters`,
      {
        field: 'api.worker_token_file',
      },
    );
  return token;
}

/**
 * Builds the authenticator from the config and the tokens file. With no
 * control token (viewer, reviewer, admin), generates one admin token into
 * `<stateDir>/admin-token`; with no worker token (api.worker_token_file or a
 * `worker` entry), one worker token into `<stateDir>/worker-token` (both mode
 * 0600, reused on restart), so neither the control API nor CodeService is
 * ever open.
 */
export function resolveAuth(o: ResolveAuthOptions): ResolvedAuth {
  const file = o.tokensFile ?? o.api.tokens_file;
  const tokens = [...o.api.tokens, ...(file ? loadTokensFile(file) : [])];
  const out: Omit<ResolvedAuth, 'auth'> = {};
  if (!tokens.some((t) => t.role !== 'worker')) {
    const g = keptToken(o.stateDir, GENERATED_TOKEN_FILE);
    tokens.push({ name: GENERATED_TOKEN_NAME, token: g.token, role: 'admin' });
    out.generated = g;
  }
  if (o.api.worker_token_file) {
    out.workerToken = readTokenFile(o.api.worker_token_file);
    tokens.push({ name: WORKER_TOKEN_NAME, token: out.workerToken, role: 'worker' });
  } else if (!tokens.some((t) => t.role === 'worker')) {
    const g = keptToken(o.stateDir, GENERATED_WORKER_TOKEN_FILE);
    tokens.push({ name: WORKER_TOKEN_NAME, token: g.token, role: 'worker' });
    out.generatedWorker = g;
    out.workerToken = g.token;
  } else out.workerToken = tokens.find((t) => t.role === 'worker' && t.token)?.token;
  return { auth: new Authenticator(tokens), ...out };
}
