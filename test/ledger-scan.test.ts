/** The ledger on a real nats-server: the start-up scan reads what replay reads. */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../common/nats-server.js';
import { names as makeNames } from '../common/subjects.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import { ensureSwarmStreams } from '../coordinator/jetstream-setup.js';
import { jetStreamStore, Ledger, replay, scanEvents } from '../coordinator/ledger/ledger.js';

const STAGES = ['screen'];

describe('ledger on JetStream', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const n = makeNames('ledgerspec');

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureSwarmStreams(nc, await jetstreamManager(nc), n);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('rebuilds by scan the same state and events as by replay, from the start or a later seq', async () => {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const store = jetStreamStore(js, jsm, n);
    const empty: Event[] = [];
    await scanEvents(js, jsm, n, 1, (ev) => empty.push(ev));
    expect(empty).toEqual([]);
    const ledger = await Ledger.open(store, STAGES);
    for (let i = 0; i < 2500; i++)
      await ledger.append(
        { case: 'trialQueued', value: { trial: { id: `t${i % 2000}`, stage: { name: 'screen' } } } },
        `q.t${i % 2000}`, // the last 500 are duplicates: not stored
      );
    const facts = await ledger.appendMany(
      Array.from({ length: 300 }, (_, i) => ({
        body: { case: 'trialFinished' as const, value: { result: { trialId: `t${i}`, metric: i } } },
      })),
    );
    expect(facts.every((f) => f.ok)).toBe(true);
    const byReplay: Event[] = [];
    for await (const ev of replay(js, jsm, n)) byReplay.push(ev);
    const byScan: Event[] = [];
    await scanEvents(js, jsm, n, 1, (ev) => byScan.push(ev));
    expect(byScan).toEqual(byReplay);
    expect(byScan.map((e) => Number(e.seq))).toEqual(Array.from({ length: 2300 }, (_, i) => i + 1));
    const tail: Event[] = [];
    await scanEvents(js, jsm, n, 2201, (ev) => tail.push(ev));
    expect(tail).toEqual(byReplay.slice(2200));
    await scanEvents(js, jsm, n, 2301, () => expect.fail('nothing after the end'));
    const reopened = await Ledger.open(store, STAGES);
    expect(reopened.state.lastSeq).toBe(ledger.state.lastSeq);
    expect(reopened.state.trials.size).toBe(2000);
    expect(reopened.state.finished).toBe(300);
    expect(reopened.state.stageCounts.get('screen')).toEqual(ledger.state.stageCounts.get('screen'));
    // Log tails are read back from the stream by sequence.
    await reopened.append({
      case: 'trialFinished',
      value: { result: { trialId: 't1999', metric: 1, logTail: 'the tail\n' } },
    });
    expect(reopened.state.trials.get('t1999')!.result!.logTail).toBe('');
    expect((await reopened.result('t1999'))!.logTail).toBe('the tail\n');
    expect((await (await Ledger.open(store, STAGES)).result('t1999'))!.logTail).toBe('the tail\n');
  }, 60_000);

  it('stops the scan on an error from the callback', async () => {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    let seen = 0;
    await expect(
      scanEvents(js, jsm, n, 1, () => {
        if (++seen === 10) throw new Error('bad event');
      }),
    ).rejects.toThrow('bad event');
    expect(seen).toBe(10);
  });
});
