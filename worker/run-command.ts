/**
 * Runs a target command in its own process group with a wall-clock limit:
 * SIGTERM to the group at the limit, SIGKILL after a grace period, and SIGKILL
 * to whatever is left of the group once the main process exits, so no
 * grandchild outlives its trial. Output goes to a bounded log file and a
 * tail kept in memory; memory is sampled while it runs.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { StringDecoder } from 'node:string_decoder';
import type { RunEnd } from './classify.js';
import { ProgressTracker } from './output-parser.js';
import type { CommandProcess, Launcher } from './launcher.js';
import type { TrialIds } from './isolation.js';
import { groupMembers, signalGroup } from './process-group.js';

export interface RunSpec {
  readonly command: string;
  readonly cwd: string;
  /** Starts the command; without one, the worker spawns it itself with `env`. */
  readonly launcher?: Launcher;
  /** The loop's environment (used when there is no launcher; a launcher was started with it). */
  readonly env: Record<string, string>;
  /** The trial's variables, on top of env. */
  readonly vars: Record<string, string>;
  /** Runs the command as these ids when there is no launcher (a launcher carries its own). */
  readonly ids?: TrialIds;
  readonly timeoutMs: number;
  readonly killGraceMs: number;
  readonly logFile: string;
  readonly maxLogBytes: number;
  /** Bytes of output kept in memory for parsing and the log tail. */
  readonly keepBytes: number;
  /** Aborting kills the group; the outcome then says `aborted`. */
  readonly signal?: AbortSignal;
  /** Aborting kills the group the same way; the outcome then says `stopped` (a mid-slot stop). */
  readonly stopSignal?: AbortSignal;
  readonly sampleMs: number;
  /** GPU memory of the given pids in MiB (GPU mode); undefined when unknown. */
  readonly sampleGpu?: (pids: ReadonlySet<number>) => Promise<number | undefined>;
  readonly onProgress?: (progress: number) => void;
  /** Every chunk of output as text, per stream (a UTF-8 sequence split by a chunk is joined first). */
  readonly onOutput?: (text: string, stream: 'stdout' | 'stderr') => void;
  /** Called right after the spawn with the group id (= pid). */
  readonly onSpawn?: (pgid: number) => void;
  /** Called when the command's main process has exited (or could not start). */
  readonly onExit?: () => void;
}

export interface RunOutcome extends RunEnd {
  /** The last `keepBytes` of output (stdout and stderr interleaved). */
  readonly output: string;
  readonly peakRssMb: number;
  readonly peakGpuMb?: number;
  /** performance.now() at spawn and at exit. */
  readonly spawnedAt: number;
  readonly exitedAt: number;
  /** The worker killed it on a stop request (stopSignal); wins over how the process ended. */
  readonly stopped: boolean;
}

/** Keeps the last N bytes of a byte stream. */
class Tail {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer) {
    this.parts.push(b);
    this.size += b.length;
    while (this.size - (this.parts[0]?.length ?? 0) >= this.max && this.parts.length > 1) {
      this.size -= this.parts.shift()!.length;
    }
  }
  text(): string {
    const all = Buffer.concat(this.parts);
    let start = Math.max(0, all.length - this.max);
    // Never start in the middle of a UTF-8 sequence.
    while (start < all.length && (all[start]! & 0xc0) === 0x80) start++;
    return all.subarray(start).toString('utf8');
  }
}

/** Runs the command to completion (or the limit) and reports how it ended. */
export function runCommand(spec: RunSpec): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const log = createWriteStream(spec.logFile, { flags: 'a' });
    log.on('error', () => undefined);
    let logged = 0;
    const tail = new Tail(spec.keepBytes);
    const progress = new ProgressTracker();
    const child: CommandProcess = spec.launcher
      ? spec.launcher.start(spec.cwd, spec.vars, spec.command)
      : spawn('sh', ['-c', spec.command], {
          cwd: spec.cwd,
          env: { ...spec.env, ...spec.vars },
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
          ...(spec.ids ? { uid: spec.ids.uid, gid: spec.ids.gid } : {}),
        });
    const spawnedAt = performance.now();
    const pgid = child.pid ?? -1;
    let timedOut = false;
    let aborted = false;
    let stopped = false;
    let killTimer: NodeJS.Timeout | undefined;
    let peakRssMb = 0;
    let peakGpuMb: number | undefined;
    let sampling = false;

    const onData = (b: Buffer, stream: 'stdout' | 'stderr') => {
      tail.push(b);
      if (logged < spec.maxLogBytes) {
        const room = spec.maxLogBytes - logged;
        log.write(
          b.length <= room ? b : Buffer.concat([b.subarray(0, room), Buffer.from('\n[log truncated]\n')]),
        );
        logged += b.length;
      }
      if (spec.onProgress) {
        const before = progress.progress;
        progress.push(b.toString('latin1'));
        if (progress.progress !== before) spec.onProgress(progress.progress);
      }
      if (spec.onOutput) {
        const text = decoders[stream].write(b);
        if (text !== '') spec.onOutput(text, stream);
      }
    };
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    child.stdout.on('data', (b: Buffer) => onData(b, 'stdout'));
    child.stderr.on('data', (b: Buffer) => onData(b, 'stderr'));

    const stop = (why: 'timeout' | 'abort' | 'stopped') => {
      if (why === 'timeout') timedOut = true;
      else if (why === 'abort') aborted = true;
      else stopped = true;
      signalGroup(pgid, 'SIGTERM');
      killTimer ??= setTimeout(() => signalGroup(pgid, 'SIGKILL'), spec.killGraceMs);
    };
    const limit = setTimeout(() => stop('timeout'), spec.timeoutMs);
    const onAbort = () => stop('abort');
    if (spec.signal?.aborted) onAbort();
    else spec.signal?.addEventListener('abort', onAbort, { once: true });
    const onStop = () => stop('stopped');
    if (spec.stopSignal?.aborted) onStop();
    else spec.stopSignal?.addEventListener('abort', onStop, { once: true });

    const sample = async () => {
      if (sampling || pgid < 0) return;
      sampling = true;
      try {
        const g = await groupMembers(pgid);
        peakRssMb = Math.max(peakRssMb, g.rssMb);
        if (spec.sampleGpu && g.pids.size) {
          const mb = await spec.sampleGpu(g.pids);
          if (mb !== undefined) peakGpuMb = Math.max(peakGpuMb ?? 0, mb);
        }
      } finally {
        sampling = false;
      }
    };
    const first = setTimeout(() => void sample(), Math.min(100, spec.sampleMs));
    const sampler = setInterval(() => void sample(), spec.sampleMs);
    if (pgid > 0) spec.onSpawn?.(pgid);

    let exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
    let done = false;
    let closeGuard: NodeJS.Timeout | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(closeGuard);
      clearTimeout(limit);
      clearTimeout(first);
      clearInterval(sampler);
      if (killTimer) clearTimeout(killTimer);
      spec.signal?.removeEventListener('abort', onAbort);
      spec.stopSignal?.removeEventListener('abort', onStop);
      log.end();
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        aborted,
        output: tail.text(),
        peakRssMb,
        peakGpuMb,
        spawnedAt,
        exitedAt: exit?.at ?? performance.now(),
        stopped,
      });
    };
    child.on('error', (err) => {
      onData(Buffer.from(`\n[arswarm] cannot start command: ${err.message}\n`), 'stderr');
      exit = { code: 127, signal: null, at: performance.now() };
      spec.onExit?.();
      finish();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal, at: performance.now() };
      spec.onExit?.();
      // Whatever the command left behind in its group dies with it.
      signalGroup(pgid, 'SIGKILL');
      // A process that left the group (setsid) may hold the pipes open: stop waiting for them.
      closeGuard = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, 2000);
    });
    child.on('close', () => {
      if (exit) finish();
    });
  });
}
