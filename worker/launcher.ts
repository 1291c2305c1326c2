/**
 * Starts target commands without forking the worker on the critical path.
 *
 * Forking a process costs time in proportion to its memory: ~5 ms for a bare
 * Node process, 30 ms and more for a worker holding a few hundred MB. So each
 * loop keeps one small `sh` standing by, started while the previous trial runs, in
 * its own process group with the loop's environment, its stdout and stderr
 * already piped. A trial hands it a script on stdin (cd, the trial's exports,
 * `exec sh -c COMMAND`) and closes it; the standby becomes the command.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { TrialIds } from './isolation.js';
import { signalGroup } from './process-group.js';

export type CommandProcess = ChildProcessByStdio<Writable | null, Readable, Readable>;

/** The standby reads its script to EOF, then runs it; an empty script (the worker went away) exits. */
const STANDBY = 'script=$(cat) || exit 126; [ -n "$script" ] || exit 0; eval "$script"';

/** Quotes a string for sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The script a standby runs: stdin detached, into the work dir, exports, then the command. */
export function launchScript(cwd: string, vars: Readonly<Record<string, string>>, command: string): string {
  return [
    'exec </dev/null',
    `cd ${shQuote(cwd)} || exit 126`,
    ...Object.entries(vars).map(([k, v]) => `export ${k}=${shQuote(v)}`),
    `exec sh -c ${shQuote(command)}`,
    '',
  ].join('\n');
}

export class Launcher {
  private standby: CommandProcess | undefined;

  /** With `ids`, the standby (and so the command) runs as that uid/gid, supplementary groups dropped. */
  constructor(
    private readonly cwd: string,
    private readonly env: Record<string, string>,
    private readonly ids?: TrialIds,
  ) {}

  /** Starts a standby if none is waiting (call off the critical path, e.g. while a trial runs). */
  prepare(): void {
    if (this.standby && this.standby.exitCode === null && this.standby.signalCode === null) return;
    const p = spawn('sh', ['-c', STANDBY], {
      cwd: this.cwd,
      env: this.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(this.ids ? { uid: this.ids.uid, gid: this.ids.gid } : {}),
    });
    p.stdin.on('error', () => undefined);
    p.on('error', () => undefined);
    this.standby = p;
  }

  /** Runs a command in cwd with vars exported on top of the loop environment. */
  start(cwd: string, vars: Readonly<Record<string, string>>, command: string): CommandProcess {
    this.prepare();
    const p = this.standby!;
    this.standby = undefined;
    p.stdin!.end(launchScript(cwd, vars, command));
    return p;
  }

  /** Ends the standby (shutdown). */
  close(): void {
    const p = this.standby;
    this.standby = undefined;
    if (p?.pid) {
      p.stdin?.destroy();
      signalGroup(p.pid, 'SIGKILL');
    }
  }
}
