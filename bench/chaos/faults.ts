/**
 * The faults of a chaos run and how each is injected. Every fault is aimed
 * at work in flight: worker faults at a worker that is running a trial, the
 * others only while some trial runs, and each says whether it hit one.
 */
import { unlinkSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '../../common/subjects.js';
import { fillDisk, type ChaosWorker, type SwarmProcs } from './swarm-procs.js';

export const FAULT_KINDS = [
  'worker_kill',
  'coordinator_kill',
  'nats_restart',
  'worker_cut',
  'worker_stall',
  'code_cut',
  'code_stall',
  'control_cut',
  'control_stall',
  'disk_full',
  'duplicate_delivery',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults aimed at one worker (they need a busy one to hit a trial in flight). */
const WORKER_FAULTS = new Set<FaultKind>([
  'worker_kill',
  'worker_cut',
  'worker_stall',
  'code_cut',
  'code_stall',
  'disk_full',
]);

/** How long a stalled connection forwards nothing. */
export const STALL_MS = 4000;

export interface FaultContext {
  procs: SwarmProcs;
  nc: NatsConnection;
  names: Names;
  /** Workers running a trial now (from their heartbeats). */
  busy: readonly string[];
  /** Trials running now (from status). */
  running: number;
  /** Results seen lately, for duplicate deliveries. */
  recentResults: readonly Uint8Array[];
  pick<T>(xs: readonly T[]): T;
  /** Called with the seconds until the coordinator served again after a kill. */
  onRecovery(seconds: number): Promise<void>;
  /** Unique per injection (dedupe ids). */
  serial: number;
}

/** Whether the fault can hit work in flight now (else the run waits and tries again). */
export function canHit(
  kind: FaultKind,
  c: Pick<FaultContext, 'busy' | 'running' | 'procs' | 'recentResults'>,
): boolean {
  if (kind === 'duplicate_delivery') return c.running > 0 && c.recentResults.length > 0;
  if (kind === 'disk_full')
    return (
      c.busy.some((id) => c.procs.workers.get(id)?.tmpfs) ||
      (c.running > 0 && tmpfsWorker(c.procs) !== undefined)
    );
  if (WORKER_FAULTS.has(kind)) return c.busy.length > 0;
  return c.running > 0;
}

function tmpfsWorker(procs: SwarmProcs): ChaosWorker | undefined {
  return [...procs.workers.values()].find((x) => x.tmpfs);
}

/** Injects one fault; resolves to true when it hit a trial in flight. */
export async function inject(kind: FaultKind, c: FaultContext): Promise<boolean> {
  const busyWorker = () => c.procs.workers.get(c.pick(c.busy))!;
  switch (kind) {
    case 'worker_kill': {
      const w = busyWorker();
      await c.procs.killWorker(w.id);
      setTimeout(() => void c.procs.startWorker(w.id, 96), 300);
      return true;
    }
    case 'coordinator_kill':
      await c.procs.killCoordinator();
      c.procs.startCoordinator();
      await c.onRecovery(await c.procs.waitServing());
      return c.running > 0;
    case 'nats_restart':
      await c.procs.nats.kill();
      await new Promise((r) => setTimeout(r, 200));
      await c.procs.nats.restart();
      return c.running > 0;
    case 'worker_cut':
      busyWorker().proxy.cut();
      return true;
    case 'worker_stall':
      busyWorker().proxy.stall(STALL_MS);
      return true;
    case 'code_cut':
      busyWorker().codeProxy.cut();
      return true;
    case 'code_stall':
      busyWorker().codeProxy.stall(STALL_MS);
      return true;
    case 'control_cut':
      c.procs.controlProxy.cut();
      return c.running > 0;
    case 'control_stall':
      c.procs.controlProxy.stall(STALL_MS);
      return c.running > 0;
    case 'disk_full': {
      const busyTmpfs = c.busy.map((id) => c.procs.workers.get(id)!).filter((w) => w.tmpfs);
      const w = busyTmpfs.length ? c.pick(busyTmpfs) : tmpfsWorker(c.procs)!;
      const filler = fillDisk(w.workDir);
      setTimeout(() => {
        try {
          unlinkSync(filler);
        } catch {
          // already gone
        }
      }, 1500);
      return busyTmpfs.length > 0;
    }
    case 'duplicate_delivery': {
      if (!c.recentResults.length) return false;
      await jetstream(c.nc)
        .publish(c.names.resultFinished, c.pick(c.recentResults), { msgID: `chaos-dup-${c.serial}` })
        .catch(() => undefined);
      return c.running > 0;
    }
  }
}
