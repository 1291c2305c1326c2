/**
 * Where the CLI looks for the `cli.yaml` that `arswarm up` writes into its
 * state dir, when no flag or variable names one: from the working directory
 * up to the top of its git work tree, the nearest `.arswarm/cli.yaml` wins;
 * failing that, the newest one in a state dir up to two folders below that
 * top (so `arswarm up --example tinygpt`, whose state dir is
 * examples/tinygpt/.arswarm, is found from the repo root and from anywhere
 * else in it). Outside a git work tree only the working directory's own
 * `.arswarm/cli.yaml` counts: walking up from /tmp or $HOME could pick up an
 * unrelated swarm.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEFAULT_STATE_DIR } from '../common/config.js';

/** The state dir name `arswarm up` uses by default (swarm.state_dir). @default .arswarm */
export const STATE_DIR_NAME = DEFAULT_STATE_DIR;
/** The CLI config file inside a state dir. */
export const CLI_CONFIG_FILE = 'cli.yaml';

/** How many folders below the git top a state dir is looked for. */
const SEARCH_DEPTH = 2;
/** Folders never searched: dependencies and build output hold no state dirs of the user's. */
const SKIP = new Set(['node_modules', 'dist']);

/** The top of the git work tree holding `dir` (a `.git` folder or file), or undefined. */
export function gitTop(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) return undefined;
  }
}

/** `<dir>/.arswarm/cli.yaml` when it exists. */
function cliConfigIn(dir: string): string | undefined {
  const p = join(dir, STATE_DIR_NAME, CLI_CONFIG_FILE);
  return existsSync(p) ? p : undefined;
}

/** Every `<d>/.arswarm/cli.yaml` for folders d 1..depth levels below `dir`. */
function cliConfigsBelow(dir: string, depth: number, out: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // unreadable folders hold nothing for us
  }
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.') || SKIP.has(e.name)) continue;
    const sub = join(dir, e.name);
    const found = cliConfigIn(sub);
    if (found) out.push(found);
    if (depth > 1) cliConfigsBelow(sub, depth - 1, out);
  }
}

/** The newest of some files by modification time. */
function newest(files: string[]): string | undefined {
  let best: string | undefined;
  let bestMs = -Infinity;
  for (const f of files) {
    const ms = statSync(f).mtimeMs;
    if (ms > bestMs) [best, bestMs] = [f, ms];
  }
  return best;
}

/** The cli.yaml that `arswarm up` wrote for a swarm started in or below this work tree, if any. */
export function searchCliConfig(cwd: string): string | undefined {
  const top = gitTop(cwd);
  if (!top) return cliConfigIn(cwd);
  for (let d = cwd; ; d = dirname(d)) {
    const found = cliConfigIn(d);
    if (found) return found;
    if (d === top || dirname(d) === d) break;
  }
  const below: string[] = [];
  cliConfigsBelow(top, SEARCH_DEPTH, below);
  return newest(below);
}
