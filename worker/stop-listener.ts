/**
 * Answers the coordinator's mid-slot stop requests for the trial a loop runs:
 * core-NATS request/reply on names.stopTrial(trialId), subscribed while the
 * trial is on this loop. The reply says whether the worker stopped it, so the
 * coordinator knows at once whether its GPU is being freed (docs/decisions.md).
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { decode, encode } from '../common/codec.js';
import { ArswarmError } from '../common/errors.js';
import type { Names } from '../common/subjects.js';
import { StopTrialReplySchema, StopTrialRequestSchema } from '../gen/arswarm/v1/trial_pb.js';
import type { WorkerLogger } from './options.js';

/** What a request body asks of a trial in a given state: the reply, and whether to stop it. */
export function stopDecision(
  body: Uint8Array,
  trialId: string,
  running: boolean,
): { stopped: boolean; reason: string } {
  let req;
  try {
    req = decode(StopTrialRequestSchema, body);
  } catch (err) {
    return { stopped: false, reason: `malformed request: ${ArswarmError.from(err).message}` };
  }
  if (!running || req.trialId !== trialId) return { stopped: false, reason: 'not running' };
  return { stopped: true, reason: req.reason };
}

export class StopListener {
  private sub: Subscription | undefined;
  private running = false;
  private readonly controller = new AbortController();
  /** The stop's reason once stopped. */
  reason = '';

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: Names,
    private readonly trialId: string,
    private readonly logger: WorkerLogger,
  ) {}

  /** Aborted when a stop request was accepted. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** The command started: stop requests are accepted from now on. */
  open(): void {
    this.running = true;
    if (this.sub) return;
    try {
      this.sub = this.nc.subscribe(this.names.stopTrial(this.trialId), {
        callback: (err, msg) => {
          if (!err) this.answer(msg);
        },
      });
    } catch (err) {
      // A closed connection: the trial runs to its end, unstoppable.
      this.logger('warn', 'cannot listen for stop requests', {
        trialId: this.trialId,
        error: ArswarmError.from(err).message,
      });
    }
  }

  /** The command exited: later requests are answered `not running` (unless it was stopped here). */
  exited(): void {
    this.running = false;
  }

  /** The trial is over on this loop: no more answers (a request then has no responders). */
  close(): void {
    this.running = false;
    try {
      this.sub?.unsubscribe();
    } catch {
      // the connection is closed already
    }
    this.sub = undefined;
  }

  private answer(msg: Msg): void {
    // A trial stopped here stays stopped: a repeated request (the coordinator re-asks while
    // progress comes, and the last points are flushed at the exit) hears so, for the first reason.
    const d = stopDecision(msg.data, this.trialId, this.running || this.stopped);
    const first = d.stopped && !this.stopped;
    const reply = d.stopped && !first ? { stopped: true, reason: this.reason } : d;
    if (first) {
      this.reason = d.reason;
      this.logger('info', 'trial stopped mid-slot', { trialId: this.trialId, reason: d.reason });
    }
    try {
      msg.respond(encode(StopTrialReplySchema, reply));
    } catch {
      // the requester went away; the stop stands
    }
    if (first) this.controller.abort(d.reason);
  }
}
