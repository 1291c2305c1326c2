/**
 * Where the CLI finds the coordinator and its token: flags, then the
 * environment (ARSWARM_ADDR, ARSWARM_TOKEN, ARSWARM_CA_CERT), then a CLI
 * config file (--cli-config, ARSWARM_CLI_CONFIG, the .arswarm/cli.yaml that
 * `arswarm up` wrote, searched from the working directory as
 * cli-config-search.ts says, ~/.config/arswarm/cli.yaml). Tokens never appear
 * as flag defaults, so `--help` cannot show one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import { DEFAULT_GRPC_ADDR } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import { createClient, type ServiceClient } from '../common/grpc.js';
import { searchCliConfig } from './cli-config-search.js';

/** The coordinator's address under a default config. @default 127.0.0.1:50051 */
export const DEFAULT_ADDR = DEFAULT_GRPC_ADDR;

export type ControlClient = ServiceClient<(typeof ControlService)['method']>;

/** The CLI config file: what `arswarm up` writes for the CLI. */
export interface CliConfig {
  /** gRPC address host:port. */
  addr?: string;
  token?: string;
  /** PEM root certificate when the coordinator serves TLS (relative to the file). */
  ca_cert?: string;
  /** The dashboard's URL (for people; the CLI speaks gRPC). */
  dashboard?: string;
}

/** Each key of the file, and whether it must be non-empty when given. */
const CLI_CONFIG_KEYS: Record<keyof CliConfig, boolean> = {
  addr: true,
  token: true,
  ca_cert: true,
  dashboard: false,
};

/**
 * What is wrong with a parsed CLI config file. Checked by hand rather than
 * with zod: four string fields do not justify loading zod (about as slow to
 * load as the gRPC client) into every control command's start.
 */
export function cliConfigIssues(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return ['expected a mapping of keys'];
  const issues: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (!(k in CLI_CONFIG_KEYS))
      issues.push(`${k}: unknown key (known: ${Object.keys(CLI_CONFIG_KEYS).join(', ')})`);
    else if (typeof v !== 'string') issues.push(`${k}: expected a string`);
    else if (CLI_CONFIG_KEYS[k as keyof CliConfig] && !v) issues.push(`${k}: empty`);
  }
  return issues;
}

export interface ConnectionFlags {
  addr?: string;
  token?: string;
  caCert?: string;
  cliConfig?: string;
  json?: boolean;
}

/** Adds --addr, --token, --ca-cert, --cli-config and --json to a command. */
export function withConnection(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--addr <host:port>',
        `coordinator gRPC address [env ARSWARM_ADDR] (default ${DEFAULT_ADDR})`,
      ),
    )
    .addOption(new Option('--token <token>', 'bearer token [env ARSWARM_TOKEN]'))
    .addOption(new Option('--ca-cert <file>', 'PEM root certificate for TLS [env ARSWARM_CA_CERT]'))
    .addOption(new Option('--cli-config <file>', 'CLI config file with addr/token [env ARSWARM_CLI_CONFIG]'))
    .option('--json', 'print JSON');
}

/** The first CLI config file that exists, in the documented order. */
export function findCliConfig(flag?: string, env = process.env, cwd = process.cwd()): string | undefined {
  const explicit = flag ?? env.ARSWARM_CLI_CONFIG;
  if (explicit) {
    if (!existsSync(explicit))
      throw new ArswarmError(Code.NotFound, `no CLI config file ${explicit}`, { field: 'cli-config' });
    return resolve(explicit);
  }
  const xdg = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  const user = join(xdg, 'arswarm', 'cli.yaml');
  return searchCliConfig(cwd) ?? (existsSync(user) ? user : undefined);
}

/**
 * Parses a CLI config file. `arswarm up` writes JSON, which is YAML too, and
 * is read without loading the YAML parser (it took about a sixth of the module
 * loading of `arswarm status`); anything else a person wrote goes to it.
 */
export function parseCliConfigText(text: string): unknown {
  if (text.trimStart().startsWith('{')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // YAML flow mappings start with `{` too
    }
  }
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yaml.parse(text) as unknown;
}

export function readCliConfig(path: string): CliConfig {
  let raw: unknown;
  try {
    raw = parseCliConfigText(readFileSync(path, 'utf8'));
  } catch (err) {
    // Never echo the file: it holds a token.
    throw new ArswarmError(Code.InvalidArgument, `CLI config ${path} is not readable YAML`, { cause: err });
  }
  const issues = cliConfigIssues(raw ?? {});
  if (issues.length)
    throw new ArswarmError(Code.InvalidArgument, `invalid CLI config ${path}: ${issues.join('; ')}`);
  const c = { ...(raw as CliConfig) };
  if (c.ca_cert && !isAbsolute(c.ca_cert)) c.ca_cert = resolve(dirname(path), c.ca_cert);
  return c;
}

export interface Connection {
  addr: string;
  token?: string;
  caCert?: string;
  /** The CLI config file the connection came from, if one was read. */
  file?: string;
}

/** Resolves flags, environment and config file into one connection. */
export function resolveConnection(flags: ConnectionFlags, env = process.env): Connection {
  const file = findCliConfig(flags.cliConfig, env);
  const fromFile = file ? readCliConfig(file) : {};
  // An empty variable counts as unset.
  return {
    addr: flags.addr || env.ARSWARM_ADDR || fromFile.addr || DEFAULT_ADDR,
    token: flags.token || env.ARSWARM_TOKEN || fromFile.token,
    caCert: flags.caCert || env.ARSWARM_CA_CERT || fromFile.ca_cert,
    ...(file ? { file } : {}),
  };
}

/** A ControlService client for the resolved connection; closes itself after `fn`. */
export async function withClient<T>(
  flags: ConnectionFlags,
  fn: (c: ControlClient) => Promise<T>,
): Promise<T> {
  const conn = resolveConnection(flags);
  let rootCert: Buffer | undefined;
  if (conn.caCert) {
    try {
      rootCert = readFileSync(conn.caCert);
    } catch (err) {
      throw new ArswarmError(Code.NotFound, `cannot read CA certificate ${conn.caCert}`, { cause: err });
    }
  }
  const client = createClient(ControlService, conn.addr, { token: conn.token, rootCert, timeoutMs: 30_000 });
  try {
    return await fn(client);
  } catch (err) {
    const e = ArswarmError.from(err);
    if (e.code === Code.Unavailable)
      throw new ArswarmError(e.code, `cannot reach the coordinator at ${conn.addr}: ${e.message}`, {
        reason: e.reason,
        cause: err,
        hint: `is it running? give --addr or set ARSWARM_ADDR (\`arswarm up\` prints both)${conn.file ? `; the address came from ${conn.file}` : ''}`,
      });
    if (e.code === Code.Unauthenticated && !conn.token)
      // The server's hint speaks of the dashboard; the CLI's names its own flags.
      throw new ArswarmError(e.code, e.message, {
        reason: e.reason,
        field: e.field,
        cause: err,
        hint: 'give --token or set ARSWARM_TOKEN (`arswarm up` prints one; see also --cli-config)',
      });
    throw e;
  } finally {
    client.close();
  }
}
