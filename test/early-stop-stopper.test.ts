/**
 * The stopper's NATS side against a real nats-server and a JetStream ledger,
 * with the worker played by a NATS client that publishes real TrialProgress
 * messages and answers (or does not answer) the stop requests: the fact is
 * appended before the first request; a request nobody answers is logged and
 * sent again while the trial's progress keeps coming, at most every
 * resendMs; after a restart the stopper knows the stop from the ledger and
 * asks again without a second fact; baselines, stages without early_stop and
 * malformed messages are never acted on.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../common/codec.js';
import { parseConfig } from '../common/config-load.js';
import { startNatsServer, type NatsServer } from '../common/nats-server.js';
import { names as makeNames } from '../common/subjects.js';
import { Stopper } from '../coordinator/early-stop/stopper.js';
import { ensureSwarmStreams } from '../coordinator/jetstream-setup.js';
import { jetStreamStore, Ledger } from '../coordinator/ledger/ledger.js';
import { Mutex } from '../coordinator/mutex.js';
import {
  StopTrialReplySchema,
  StopTrialRequestSchema,
  TrialKind,
  TrialProgressSchema,
  TrialStatus,
} from '../gen/arswarm/v1/trial_pb.js';
import { waitFor } from './support/control-swarm.js';

const config = parseConfig({
  target: { repo: '.', editable: ['train.py'], command: 'python3 train.py' },
  stages: [
    { name: 'screen', budget_seconds: 10, early_stop: { after: 0.3, every: 0.1, window: 0.1, min_df: 4 } },
    { name: 'confirm', budget_seconds: 10 },
  ],
});
const STAGES = ['screen', 'confirm'];

/** A falling loss curve from `from` to `to` of the slot, raised by `shift`, with a per-run offset. */
function points(from: number, to: number, shift: number, offset = 0) {
  const out = [];
  for (let f = from + 0.02; f <= to + 1e-9; f += 0.02)
    out.push({ fraction: f, step: BigInt(Math.round(f * 100)), value: 4 - 1.5 * f + shift + offset });
  return out;
}

describe('the stopper on a real nats-server', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const n = makeNames('stopper');

  beforeAll(async () => {
    nats = await startNatsServer({});
    nc = await connect({ servers: nats.url });
    await ensureSwarmStreams(nc, await jetstreamManager(nc), n);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  const openLedger = async () => {
    const js = jetstream(nc);
    return Ledger.open(jetStreamStore(js, await jetstreamManager(nc), n), STAGES);
  };

  const startStopper = (ledger: Ledger, logs: string[]) => {
    const mutex = new Mutex();
    const s = new Stopper({
      config,
      nc,
      names: n,
      ledger,
      exclusive: (fn) => mutex.run(fn),
      classOf: () => 'cpu',
      log: (m) => logs.push(m),
      idleMs: 60_000,
      requestTimeoutMs: 300,
      resendMs: 400,
    });
    s.start();
    return s;
  };

  const progress = (trialId: string, pts: ReturnType<typeof points>, workerId = 'w1') =>
    nc.publish(
      n.progress(trialId),
      encode(TrialProgressSchema, { trialId, workerId, points: pts, sentAtMs: BigInt(Date.now()) }),
    );

  it('records the stop first, re-asks while progress comes, and knows the stop after a restart', async () => {
    const ledger = await openLedger();
    await ledger.append({ case: 'swarmStarted', value: { branch: 'b', head: 'h0' } });
    const offsets = [-0.02, -0.01, 0, 0.01, 0.02];
    for (const [r, off] of offsets.entries()) {
      const id = `base.h0.r${r + 1}`;
      await ledger.append({
        case: 'trialQueued',
        value: {
          trial: {
            id,
            kind: TrialKind.BASELINE,
            parentCommit: 'h0',
            gpuClass: 'cpu',
            stage: { name: 'screen' },
          },
        },
      });
      await ledger.append({
        case: 'trialFinished',
        value: {
          result: {
            trialId: id,
            status: TrialStatus.OK,
            metric: 1,
            gpuClass: 'cpu',
            curve: points(0, 1, 0, off),
          },
        },
      });
    }
    for (const id of ['bad', 'confirm-only'])
      await ledger.append({
        case: 'candidateProposed',
        value: { candidate: { id, parentCommit: 'h0', diff: 'd' } },
      });
    const trials = [
      { id: 'bad.t', candidateId: 'bad', stage: 'screen' },
      { id: 'confirm-only.t', candidateId: 'confirm-only', stage: 'confirm' },
    ];
    for (const t of trials)
      await ledger.append({
        case: 'trialQueued',
        value: {
          trial: {
            id: t.id,
            kind: TrialKind.CANDIDATE,
            candidateId: t.candidateId,
            parentCommit: 'h0',
            stage: { name: t.stage },
          },
        },
      });
    await ledger.append({
      case: 'trialQueued',
      value: {
        trial: {
          id: 'base.h0.r6',
          kind: TrialKind.BASELINE,
          parentCommit: 'h0',
          gpuClass: 'cpu',
          stage: { name: 'screen' },
        },
      },
    });
    const logs: string[] = [];
    let stopper = startStopper(ledger, logs);

    // Garbage, a baseline and a stage without early_stop, all clearly worse: none is stopped.
    nc.publish(n.progress('bad.t'), new Uint8Array([0xff, 0xff, 0xff]));
    progress('base.h0.r6', points(0, 0.5, 1));
    progress('confirm-only.t', points(0, 0.5, 1));
    // The worker does not answer yet (no responders): the stop is recorded and the request logged.
    progress('bad.t', points(0, 0.35, 0.5));
    await waitFor(() => (ledger.state.stops.has('bad.t') ? true : undefined), 'the stop fact');
    const stop = ledger.state.stops.get('bad.t')!;
    expect(stop).toMatchObject({ candidateId: 'bad', stage: 'screen', gpuClass: 'cpu', workerId: 'w1' });
    expect(stop.evidence!.look).toBe(0.3);
    expect(stop.evidence!.worseBy).toBeGreaterThan(stop.evidence!.threshold);
    await waitFor(
      () => (logs.some((l) => l.includes('no responders')) ? true : undefined),
      'the unanswered request',
    );
    expect(
      logs.some((l) => l.startsWith('dropping malformed progress message on stopper.progress.bad')),
    ).toBe(true);
    expect(ledger.state.stops.size).toBe(1);

    // The worker answers from now on; its progress keeps coming, so the stopper asks again (rate-limited).
    const asked: { at: number; reason: string }[] = [];
    const sub = nc.subscribe(n.stopTrial('bad.t'), {
      callback: (err, m) => {
        if (err) return;
        asked.push({ at: Date.now(), reason: decode(StopTrialRequestSchema, m.data).reason });
        m.respond(encode(StopTrialReplySchema, { stopped: true, reason: 'stopped' }));
      },
    });
    await nc.flush();
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      progress('bad.t', points(0.35, 0.36, 0.5));
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(
      () => (logs.some((l) => l === 'worker stopped bad.t') ? true : undefined),
      'the answered request',
    );
    expect(asked.length).toBeGreaterThanOrEqual(2);
    // About 30 messages in 1.5 s: at most one request per 400 ms.
    expect(asked.length).toBeLessThanOrEqual(5);
    for (let i = 1; i < asked.length; i++)
      expect(asked[i]!.at - asked[i - 1]!.at).toBeGreaterThanOrEqual(350);
    expect(new Set(asked.map((a) => a.reason))).toEqual(new Set([stop.reason]));

    // A restart: a new ledger from the stream and a new stopper know the stop; progress makes it ask again.
    await stopper.close();
    const again = await openLedger();
    expect(again.state.stops.get('bad.t')?.reason).toBe(stop.reason);
    const before = asked.length;
    stopper = startStopper(again, logs);
    progress('bad.t', points(0.36, 0.4, 0.5));
    await waitFor(() => (asked.length > before ? true : undefined), 'the request after the restart');
    expect(again.state.stops.size).toBe(1);
    expect(stopper.stopsRecorded).toBe(0);

    // Once the result is in, the trial's progress asks nothing.
    await again.append({
      case: 'trialFinished',
      value: { result: { trialId: 'bad.t', status: TrialStatus.STOPPED, reason: stop.reason } },
    });
    const after = asked.length;
    await new Promise((r) => setTimeout(r, 500));
    progress('bad.t', points(0.4, 0.42, 0.5));
    await new Promise((r) => setTimeout(r, 500));
    expect(asked.length).toBe(after);
    sub.unsubscribe();
    await stopper.close();

    // Nothing else was stopped, by either process.
    expect((await openLedger()).state.stops.size).toBe(1);
  }, 60_000);
});
