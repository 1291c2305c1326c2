/**
 * Where the CLI finds the coordinator and its token: flags, then the
 * environment (ARSWARM_ADDR, ARSWARM_TOKEN, ARSWARM_CA_CERT), then a CLI
 * config file (--cli-config, ARSWARM_CLI_CONFIG, ./.arswarm/cli.yaml as
 * written by `arswarm up`, ~/.config/arswarm/cli.yaml). Tokens never appear
 * as flag defaults, so `--help` cannot show one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import { ArswarmError, Code } from '../common/errors.js';
import { createClient, type ServiceClient } from '../common/grpc.js';

/** @default 127.0.0.1:50051 */
export const DEFAULT_ADDR = '127.0.0.1:50051';

export type ControlClient = ServiceClient<(typeof ControlService)['method']>;

/** The CLI config file: what `arswarm up` writes for the CLI. */
export const cliConfigSchema = z
  .object({
    /** gRPC address host:port. */
    addr: z.string().min(1).optional(),
    token: z.string().min(1).optional(),
    /** PEM root certificate when the coordinator serves TLS (relative to the file). */
    ca_cert: z.string().min(1).optional(),
    /** The dashboard's URL (for people; the CLI speaks gRPC). */
    dashboard: z.string().optional(),
  })
  .strict();
export type CliConfig = z.infer<typeof cliConfigSchema>;

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
  return [join(cwd, '.arswarm', 'cli.yaml'), join(xdg, 'arswarm', 'cli.yaml')].find((p) => existsSync(p));
}

export function readCliConfig(path: string): CliConfig {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    // Never echo the file: it holds a token.
    throw new ArswarmError(Code.InvalidArgument, `CLI config ${path} is not readable YAML`, { cause: err });
  }
  const r = cliConfigSchema.safeParse(raw ?? {});
  if (!r.success)
    throw new ArswarmError(
      Code.InvalidArgument,
      `invalid CLI config ${path}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const c = r.data;
  if (c.ca_cert && !isAbsolute(c.ca_cert)) c.ca_cert = resolve(dirname(path), c.ca_cert);
  return c;
}

export interface Connection {
  addr: string;
  token?: string;
  caCert?: string;
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
        hint: 'is it running? give --addr or set ARSWARM_ADDR (`arswarm up` prints both)',
      });
    if (e.code === Code.Unauthenticated && !conn.token)
      throw new ArswarmError(e.code, e.message, {
        hint: 'give --token or set ARSWARM_TOKEN (`arswarm up` prints one; see also --cli-config)',
      });
    throw e;
  } finally {
    client.close();
  }
}
