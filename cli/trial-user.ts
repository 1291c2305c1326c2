/**
 * `--trial-user` / ARSWARM_TRIAL_USER: who a worker's trial code runs as.
 * `auto`, `none`, `UID[:GID]` or a user name from /etc/passwd (its primary
 * group unless `NAME:GID` gives one).
 */
import { readFileSync } from 'node:fs';
import { ArswarmError, Code } from '../common/errors.js';
import type { TrialUser } from '../worker/index.js';

/** uid and primary gid of a name in passwd text; undefined when absent. */
function lookup(name: string, passwd: string): { uid: number; gid: number } | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

function readPasswd(): string {
  try {
    return readFileSync('/etc/passwd', 'utf8');
  } catch {
    return '';
  }
}

const ID = /^\d+$/;

/** Parses the flag's value; `passwd` is the text of /etc/passwd (read when needed). */
export function parseTrialUser(value: string, passwd?: () => string): TrialUser {
  const v = value.trim();
  if (v === 'auto' || v === 'none') return v;
  const [user = '', group] = v.split(':', 2);
  const bad = (why: string) =>
    new ArswarmError(Code.InvalidArgument, `--trial-user ${JSON.stringify(v)}: ${why}`, {
      field: 'trial-user',
      hint: 'auto, none, UID[:GID] or a user name',
    });
  if (group !== undefined && !ID.test(group)) throw bad('the group must be a number');
  let ids: { uid: number; gid: number };
  if (ID.test(user)) ids = { uid: Number(user), gid: Number(group ?? user) };
  else {
    const found = lookup(user, (passwd ?? readPasswd)());
    if (!found) throw bad('no such user in /etc/passwd');
    ids = { uid: found.uid, gid: group === undefined ? found.gid : Number(group) };
  }
  if (ids.uid === 0 || ids.gid === 0) throw bad('trials never run as root');
  return ids;
}
