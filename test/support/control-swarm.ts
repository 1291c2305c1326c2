/**
 * Test support for the control plane: a local landscape swarm with review
 * merges, one token per role, no automatic proposer (candidates come from
 * the test, so what reaches review is known), and a tiny time scale.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Role } from '../../common/config.js';
import { startLocalSwarm, type LocalSwarm } from './local-swarm.js';

export const TOKENS: Record<Role, string> = {
  viewer: 'viewer-token-5f3a9c1e2b7d',
  reviewer: 'reviewer-token-8e1d4b6a0c92',
  admin: 'admin-token-2c7f0e9a4d15',
};

export interface ControlSwarmOptions {
  prefix: string;
  workers?: number;
  logs?: string[];
  /** Extra config edits. */
  edit?: Parameters<typeof startLocalSwarm>[0]['edit'];
}

export function startControlSwarm(o: ControlSwarmOptions): Promise<LocalSwarm> {
  return startLocalSwarm({
    example: 'landscape',
    workers: o.workers ?? 2,
    logs: o.logs,
    edit: (c) => {
      c.target.env.ARSWARM_TIME_SCALE = '0.0002';
      c.swarm.merge_policy = 'review';
      c.swarm.prefix = o.prefix;
      c.swarm.max_trials = 0;
      c.proposers = [];
      c.api.tokens = (Object.keys(TOKENS) as Role[]).map((role) => ({
        name: role,
        token: TOKENS[role],
        role,
      }));
      o.edit?.(c);
    },
  });
}

/**
 * A unified diff of train.py that sets one constant. LEARNING_RATE 0.002 and
 * WARMUP_STEPS 2 are clear improvements on the landscape at every depth.
 */
export function knobDiff(repoDir: string, name: string, value: string): string {
  return editDiff(repoDir, (before) => {
    const after = before.replace(new RegExp(`^${name} = .*$`, 'm'), `${name} = ${value}`);
    if (after === before) throw new Error(`no ${name} in train.py`);
    return after;
  });
}

/** A unified diff of train.py from an edit of its text. */
export function editDiff(repoDir: string, edit: (text: string) => string): string {
  const before = readFileSync(join(repoDir, 'train.py'), 'utf8');
  const after = edit(before);
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-diff-'));
  try {
    writeFileSync(join(dir, 'a'), before);
    writeFileSync(join(dir, 'b'), after);
    try {
      execFileSync('diff', ['-u', '--label', 'a/train.py', '--label', 'b/train.py', 'a', 'b'], {
        cwd: dir,
        encoding: 'utf8',
      });
    } catch (err) {
      const out = (err as { stdout?: string }).stdout;
      if (out) return out;
      throw err;
    }
    throw new Error('diff found no change');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * How long a test waits for candidates to climb the whole ladder: seconds on an
 * idle machine, much longer on a loaded one (two swarms per test run, 2 cores).
 */
export const LADDER_TIMEOUT_MS = 150_000;

/** Polls until `fn` returns a value (not undefined), or fails naming what it waited for. */
export async function waitFor<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 45_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The commit a branch points at in the coordinator's repo copy. */
export function branchHead(swarm: LocalSwarm): string {
  return execFileSync(
    'git',
    ['-C', join(swarm.stateDir, 'repo'), 'rev-parse', `refs/heads/${swarm.config.swarm.branch}`],
    { encoding: 'utf8' },
  ).trim();
}
