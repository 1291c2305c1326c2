/** Resolving `--example NAME | --config FILE` to a loaded config. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type LoadedConfig } from '../common/config-load.js';
import { ArswarmError, Code } from '../common/errors.js';
import { packagePath } from '../common/package-root.js';

/** The config file of a directory (an example's, or the working directory's by default). */
export const CONFIG_FILE = 'arswarm.yaml';

/** The repo's examples/ folder. */
export const EXAMPLES_DIR = packagePath('examples');

/** Names of the bundled examples. */
export function exampleNames(): string[] {
  return readdirSync(EXAMPLES_DIR).filter((d) => existsSync(join(EXAMPLES_DIR, d, CONFIG_FILE)));
}

/** Loads `--config FILE`, or the bundled `--example NAME`, or ./arswarm.yaml. */
export function resolveConfigArgs(opts: { config?: string; example?: string }): LoadedConfig {
  if (opts.config && opts.example)
    throw new ArswarmError(Code.InvalidArgument, 'give --config or --example, not both', { field: 'config' });
  if (opts.example) {
    const path = join(EXAMPLES_DIR, opts.example, CONFIG_FILE);
    if (!existsSync(path))
      throw new ArswarmError(
        Code.NotFound,
        `no example "${opts.example}" (examples: ${exampleNames().join(', ')})`,
        { field: 'example' },
      );
    return loadConfig(path);
  }
  return loadConfig(opts.config ?? CONFIG_FILE);
}
