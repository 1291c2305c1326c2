/**
 * Process-group helpers: signalling a whole group, and reading its members and
 * resident memory from /proc (Linux).
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/** Sends a signal to every process of a group; false when none is left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of the group is alive (zombies count as gone). */
export async function groupAlive(pgid: number): Promise<boolean> {
  return (await groupMembers(pgid)).pids.size > 0;
}

/** Members of a process group and their summed resident memory in MiB. */
export interface GroupSample {
  readonly pids: Set<number>;
  readonly rssMb: number;
}

const PAGE_BYTES = 4096;

/** /proc entries read between two turns of the event loop. */
const SCAN_BATCH = 256;

/**
 * Scans /proc for processes whose process group is pgid (zombies excluded).
 * Each stat file is read synchronously, a batch at a time with the loop
 * running between batches: a few µs per file, where an async read is four
 * thread-pool round trips (open, fstat, read, close), and this runs every
 * second on every GPU loop of the host.
 */
export async function groupMembers(pgid: number): Promise<GroupSample> {
  const pids = new Set<number>();
  let pages = 0;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return { pids, rssMb: 0 };
  }
  for (let at = 0; at < entries.length; at += SCAN_BATCH) {
    if (at > 0) await new Promise((ok) => setImmediate(ok));
    for (const e of entries.slice(at, at + SCAN_BATCH)) {
      if (!/^\d+$/.test(e)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // f[0] = state (field 3), f[2] = pgrp (field 5), f[21] = rss in pages (field 24).
      if (Number(f[2]) !== pgid || f[0] === 'Z' || f[0] === 'X') continue;
      pids.add(Number(e));
      pages += Number(f[21]) || 0;
    }
  }
  return { pids, rssMb: (pages * PAGE_BYTES) / (1024 * 1024) };
}

/** Reads one variable from a process's environment; undefined when unreadable. */
export async function processEnvVar(pid: number, name: string): Promise<string | undefined> {
  try {
    const env = await readFile(`/proc/${pid}/environ`, 'utf8');
    const hit = env.split('\0').find((kv) => kv.startsWith(`${name}=`));
    return hit?.slice(name.length + 1);
  } catch {
    return undefined;
  }
}
