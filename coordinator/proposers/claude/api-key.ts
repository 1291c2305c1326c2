/**
 * Where the Anthropic API key comes from: a file (a Kubernetes Secret mounted
 * read-only, re-read on every request so a rotated Secret takes effect) or
 * the ANTHROPIC_API_KEY environment variable — nowhere else. The key is never
 * logged and never put in an error message.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ArswarmError, Code } from '../../../common/errors.js';

/** Environment variables that carry proposer credentials; workers must never get them. */
export const PROPOSER_SECRET_ENV = /^ANTHROPIC_/;

/** A copy of `env` without proposer credentials (for spawning workers). */
export function withoutProposerSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !PROPOSER_SECRET_ENV.test(k)));
}

/**
 * A config's `api_key_file` as a path: relative ones start at `baseDir` (the
 * config's directory), the working directory when none is given.
 */
export function apiKeyFilePath(
  file: string | undefined,
  baseDir: string = process.cwd(),
): string | undefined {
  return file === undefined || isAbsolute(file) ? file : resolve(baseDir, file);
}

/** Where to look for the key. */
export interface ApiKeySource {
  /** Path of a file holding the key. */
  file?: string;
  /** The process environment (only ANTHROPIC_API_KEY is read). */
  env: NodeJS.ProcessEnv;
  /** Config field named in errors, e.g. `proposers[1].api_key_file`. */
  field?: string;
}

function readKeyFile(file: string, field?: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ArswarmError(Code.FailedPrecondition, `cannot read the API key file ${file}`, {
      field,
      reason: 'no_api_key',
      cause: err,
      hint: 'mount the Kubernetes Secret there, or unset api_key_file and set ANTHROPIC_API_KEY',
    });
  }
  const key = text.trim();
  if (!key)
    throw new ArswarmError(Code.FailedPrecondition, `the API key file ${file} is empty`, {
      field,
      reason: 'no_api_key',
    });
  return key;
}

/**
 * Resolves the key once (so a missing key fails at start, not on the first
 * proposal) and returns a getter for every request.
 */
export function apiKeyGetter(source: ApiKeySource): () => Promise<string> {
  if (source.file) {
    const file = source.file;
    readKeyFile(file, source.field);
    return async () => readKeyFile(file, source.field);
  }
  const key = source.env.ANTHROPIC_API_KEY?.trim();
  if (!key)
    throw new ArswarmError(Code.FailedPrecondition, 'the claude proposer needs an API key', {
      field: source.field,
      reason: 'no_api_key',
      hint: 'set ANTHROPIC_API_KEY, or api_key_file to a mounted Secret',
    });
  return async () => key;
}
