/**
 * Live learning-curve points of a running trial on core NATS
 * (names.progress(trialId)), batched by ProgressBatcher. Core NATS, not
 * JetStream: a lost message costs the coordinator one look at the curve,
 * never a decision it cannot make later, and the trial's result carries the
 * whole curve anyway (docs/decisions.md).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { CurvePoint } from '../common/curve.js';
import { encode } from '../common/codec.js';
import { ArswarmError } from '../common/errors.js';
import type { Names } from '../common/subjects.js';
import { TrialProgressSchema } from '../gen/arswarm/v1/trial_pb.js';
import { wirePoints } from './curve-reader.js';
import type { WorkerLogger } from './options.js';
import { ProgressBatcher } from './progress-batcher.js';

export interface ProgressPublisherInput {
  readonly nc: NatsConnection;
  readonly names: Names;
  readonly trialId: string;
  readonly workerId: string;
  readonly intervalMs: number;
  readonly logger: WorkerLogger;
}

/** A batcher whose messages are TrialProgress publishes; a failing publish is logged once per trial. */
export function progressPublisher(i: ProgressPublisherInput): ProgressBatcher {
  const subject = i.names.progress(i.trialId);
  let warned = false;
  const send = (points: CurvePoint[]) => {
    try {
      i.nc.publish(
        subject,
        encode(TrialProgressSchema, {
          trialId: i.trialId,
          workerId: i.workerId,
          points: wirePoints(points),
          sentAtMs: BigInt(Date.now()),
        }),
      );
    } catch (err) {
      if (warned) return;
      warned = true;
      i.logger('warn', 'progress not published (advisory; the result carries the curve)', {
        trialId: i.trialId,
        error: ArswarmError.from(err).message,
      });
    }
  };
  return new ProgressBatcher(send, i.intervalMs);
}
