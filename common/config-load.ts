/** Reading `arswarm.yaml` from disk, with errors that name the bad field. */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { ZodError } from 'zod';
import { ArswarmError, Code } from './errors.js';
import { configSchema, type Config } from './config.js';

/** A config plus where it came from, with paths made absolute. */
export interface LoadedConfig {
  readonly config: Config;
  readonly path: string;
  /** Absolute path of the target repo. */
  readonly repoDir: string;
  /** Absolute state dir. */
  readonly stateDir: string;
}

/** Formats a zod path as `stages[1].replicates`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

/** Turns a zod error into one ArswarmError naming every bad field. */
export function configError(err: ZodError, source: string): ArswarmError {
  const lines = err.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
  const first = err.issues[0];
  return new ArswarmError(Code.InvalidArgument, `invalid config ${source}:\n${lines.join('\n')}`, {
    field: first ? formatPath(first.path) : undefined,
    reason: 'invalid_config',
  });
}

/** Validates an already-parsed object. */
export function parseConfig(raw: unknown, source = '(inline)'): Config {
  const r = configSchema.safeParse(raw);
  if (!r.success) throw configError(r.error, source);
  return r.data;
}

/** Reads, parses and validates a config file. */
export function loadConfig(path: string): LoadedConfig {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ArswarmError(Code.NotFound, `cannot read config ${abs}`, { cause: err, field: 'path' });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const pos = err instanceof YAMLParseError ? err.linePos?.[0] : undefined;
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    // The parser's message ends with an excerpt of the file, which may hold a token: keep its first line only.
    const what = ((err as Error).message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new ArswarmError(Code.InvalidArgument, `config ${abs} is not valid YAML${where}: ${what}`, {
      cause: err,
      reason: 'invalid_yaml',
    });
  }
  const config = parseConfig(raw, abs);
  const base = dirname(abs);
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  // API files are relative to the config, like the repo and the state dir.
  const api = config.api;
  if (api.tokens_file) api.tokens_file = at(api.tokens_file);
  if (api.tls_cert_file) api.tls_cert_file = at(api.tls_cert_file);
  if (api.tls_key_file) api.tls_key_file = at(api.tls_key_file);
  for (const p of config.proposers)
    if (p.kind === 'claude' && p.api_key_file) p.api_key_file = at(p.api_key_file);
  return { config, path: abs, repoDir: at(config.target.repo), stateDir: at(config.swarm.state_dir) };
}
