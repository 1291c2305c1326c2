/**
 * Trial isolation: target commands run as a separate unprivileged uid, so
 * trial code cannot read the worker's environment through /proc (the kernel
 * refuses /proc/<pid>/environ of another uid), its credential files (0600),
 * its code cache or pristine trees (0700 dirs), nor write the data caches.
 *
 * It needs the power to switch uid and to manage files the trial owns: root,
 * or CAP_SETUID, CAP_SETGID, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER and
 * CAP_KILL in the worker's container. Without them (`auto`) the worker runs
 * trials as itself and says so at start.
 */
import { readFileSync } from 'node:fs';
import { chmod, lchown, lstat, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ArswarmError, Code } from '../common/errors.js';

/** The uid and gid trials run as. */
export interface TrialIds {
  readonly uid: number;
  readonly gid: number;
}

/** What the options ask for: `auto` (isolate when possible), `none`, or given ids. */
export type TrialUser = 'auto' | 'none' | TrialIds;

/** Isolation as decided at start: `ids` when on, `off` with the reason when not. */
export type Isolation = { readonly ids: TrialIds } | { readonly ids?: undefined; readonly off: string };

/** uid/gid of `nobody`/`nogroup`: the trial ids of `auto` when none are given. */
export const DEFAULT_TRIAL_IDS: TrialIds = { uid: 65534, gid: 65534 };

/** Capabilities isolation needs, by bit number (linux/capability.h). */
export const NEEDED_CAPS: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_FOWNER: 3,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
};

/** What trial code can do when isolation is off (the start line and the docs say the same). */
export const EXPOSED_WITHOUT_ISOLATION =
  "trial code runs as the worker's uid: it can read the worker's environment (NATS password, worker token) " +
  'through /proc, read and write the code cache, pristine trees and data caches, and reach NATS and the ' +
  "CodeService with the worker's credentials";

/** The effective capability set of this process (CapEff of /proc/self/status); 0n when unknown. */
export function effectiveCaps(statusText?: string): bigint {
  let text = statusText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return 0n;
    }
  }
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(text);
  return m ? BigInt(`0x${m[1]!}`) : 0n;
}

/** Names of the capabilities in NEEDED_CAPS that `caps` lacks. */
export function missingCaps(caps: bigint): string[] {
  return Object.entries(NEEDED_CAPS)
    .filter(([, bit]) => (caps & (1n << BigInt(bit))) === 0n)
    .map(([name]) => name);
}

/**
 * Decides isolation from what was asked and what the process may do.
 * Asking for given ids without the capabilities is an error (never a silent downgrade).
 */
export function decideIsolation(user: TrialUser, caps: bigint, workerUid: number): Isolation {
  if (user === 'none') return { off: 'disabled (trial user none)' };
  const missing = missingCaps(caps);
  const ids = user === 'auto' ? DEFAULT_TRIAL_IDS : user;
  if (missing.length) {
    if (user === 'auto') return { off: `the worker lacks ${missing.join(', ')} (not root)` };
    throw new ArswarmError(
      Code.FailedPrecondition,
      `trials cannot run as uid ${ids.uid}: the worker lacks ${missing.join(', ')}`,
      {
        field: 'trialUser',
        hint: 'run the worker as root (or with those capabilities), or set --trial-user none',
      },
    );
  }
  if (ids.uid === 0 || ids.uid === workerUid)
    throw new ArswarmError(
      Code.InvalidArgument,
      `trial uid ${ids.uid} is not separate from the worker (uid ${workerUid}) or root`,
      { field: 'trialUser' },
    );
  return { ids };
}

/**
 * The ids loop `k` of a worker runs its trials as. Given ids are a base: loop
 * k gets uid + k (same gid), so trials side by side on one host cannot reach
 * each other's processes (/proc/<pid>/fd, signals) or trees. `auto`'s shared
 * 65534 stays one uid for all loops.
 */
export function loopTrialIds(ids: TrialIds, k: number, given: boolean): TrialIds {
  if (!given || k === 0) return ids;
  const uid = ids.uid + k;
  if (uid > 0xfffffffe)
    throw new ArswarmError(Code.InvalidArgument, `trial uid ${ids.uid} + loop ${k} is out of range`, {
      field: 'trialUser',
    });
  return { uid, gid: ids.gid };
}

/** Whether the ids may search (x) a directory with this owner and mode. */
function canSearch(ids: TrialIds, st: { uid: number; gid: number; mode: number }): boolean {
  if (st.uid === ids.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === ids.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/** The first directory on the way to `dir` (itself included) that the trial ids cannot enter, if any. */
export async function unreachableAncestor(dir: string, ids: TrialIds): Promise<string | undefined> {
  const chain: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    chain.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of chain) {
    const st = await stat(d);
    if (!canSearch(ids, st)) return `${d} (mode ${(st.mode & 0o7777).toString(8)}, uid ${st.uid})`;
  }
  return undefined;
}

/** Dirs of the worker under its work dir that trials never enter. */
const PRIVATE_DIRS = ['cache', 'trees', 'logs', 'run'];

/**
 * Sets up the worker's dirs for isolated trials: the work dir and the trials
 * dirs only searchable by others (0711), the code cache, pristine trees, logs
 * and pid files private (0700), data caches readable but not writable (0755,
 * worker-owned). Other entries keep their modes (e.g. prepared environments
 * trials must read).
 */
export async function lockDownWorkDir(
  workDir: string,
  trialsDirs: readonly string[],
  cacheDirs: readonly string[],
): Promise<void> {
  await mkdir(workDir, { recursive: true });
  // Others may pass through to their own trees, not list what is here.
  await chmod(workDir, 0o711);
  // Made (or closed) here, so the parts that fill them later need not know.
  for (const d of PRIVATE_DIRS) {
    await mkdir(join(workDir, d), { recursive: true, mode: 0o700 });
    await chmod(join(workDir, d), 0o700);
  }
  for (const d of trialsDirs) {
    await mkdir(d, { recursive: true });
    await chmod(d, 0o711);
  }
  for (const d of cacheDirs) {
    await mkdir(d, { recursive: true });
    // A read-only mount is read-only to trials too.
    await chmod(d, 0o755).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EROFS') throw err;
    });
  }
}

/** The private HOME (and TMPDIR) of an isolated trial, next to its work tree. */
export function trialHome(workTree: string): string {
  return `${workTree}.home`;
}

/** Hands a trial's work tree and a fresh HOME to the trial ids; returns the variables that point there. */
export async function handOver(workTree: string, ids: TrialIds): Promise<Record<string, string>> {
  const home = trialHome(workTree);
  await rm(home, { recursive: true, force: true });
  await mkdir(join(home, 'tmp'), { recursive: true });
  await chownTree(workTree, ids);
  await chownTree(home, ids);
  await chmod(workTree, 0o700);
  await chmod(home, 0o700);
  return { HOME: home, TMPDIR: join(home, 'tmp') };
}

/** lchown of a tree (symlinks themselves, never their targets). */
async function chownTree(path: string, ids: TrialIds): Promise<void> {
  await lchown(path, ids.uid, ids.gid);
  const st = await lstat(path);
  if (!st.isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), ids);
}

/** Pids of live processes whose real or effective uid is `uid` (from /proc/<pid>/status). */
async function processesOf(uid: number): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(e)) continue;
    const status = await readFile(`/proc/${e}/status`, 'utf8').catch(() => '');
    const ids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    if (ids && state !== 'Z' && (Number(ids[1]) === uid || Number(ids[2]) === uid)) out.push(Number(e));
  }
  return out;
}

/**
 * Kills every process of the trial uid but `keep` (the next trial's standby):
 * one that left the trial's process group (setsid) would otherwise outlive
 * the trial and, being the same uid, could tamper with the next one (its
 * tree, its output through /proc/<pid>/fd). Only for a worker whose single
 * loop owns a uid given for trials alone. Returns the pids killed.
 */
export async function killTrialUid(uid: number, keep: ReadonlySet<number>): Promise<number[]> {
  const killed: number[] = [];
  // A process may fork while its siblings die: sweep until nothing is left.
  for (let round = 0; round < 10; round++) {
    const pids = (await processesOf(uid)).filter((p) => !keep.has(p));
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return killed;
}
