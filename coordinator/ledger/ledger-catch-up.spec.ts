import { describe, expect, it } from 'vitest';
import { Ledger, memoryStore, type EventStore } from './ledger.js';

const STAGES = ['screen'];

/** A store whose listed appends are kept but reported as failed (an acknowledgement lost). */
function losingAcks(inner: EventStore, lose: Set<number>): EventStore {
  let n = 0;
  return {
    ...inner,
    async append(data, dedupeId) {
      const ack = await inner.append(data, dedupeId);
      if (lose.has(++n)) throw new Error(`acknowledgement of append ${n} lost`);
      return ack;
    },
  };
}

describe('Ledger after an append whose outcome was unknown', () => {
  it('applies the stored event before the next append, once, in the order of the stream', async () => {
    const inner = memoryStore();
    const ledger = await Ledger.open(losingAcks(inner, new Set([2])), STAGES);
    const seen: string[] = [];
    ledger.onEvent((ev) => seen.push(ev.body.case ?? ''));
    await ledger.append({ case: 'swarmStarted', value: { branch: 'b', head: 'h0' } });
    await expect(ledger.append({ case: 'swarmPaused', value: { by: 'p' } })).rejects.toThrow(/lost/);
    expect(ledger.state.paused).toBe(false);
    await ledger.append({ case: 'proposerFailed', value: { proposer: 'x' } });
    expect(ledger.state.paused).toBe(true);
    expect(seen).toEqual(['swarmStarted', 'swarmPaused', 'proposerFailed']);
    const replayed = await Ledger.open(inner, STAGES);
    expect(replayed.state.events).toBe(ledger.state.events);
    expect(replayed.state.lastSeq).toBe(ledger.state.lastSeq);
    expect(ledger.state.events).toBe(3);
  });

  it('applies the stored original when a retried fact is dropped as a duplicate', async () => {
    const inner = memoryStore();
    const lossy = losingAcks(inner, new Set([2]));
    const ledger = await Ledger.open(lossy, STAGES);
    await ledger.append({ case: 'swarmStarted', value: { branch: 'b', head: 'h0' } });
    const merged = { candidateId: 'c1', commit: 'h1', previousHead: 'h0' };
    await expect(ledger.append({ case: 'merged', value: merged }, 'm.c1')).rejects.toThrow(/lost/);
    expect(ledger.state.head).toBe('h0');
    // The retry is a duplicate; the original is applied (the catch-up runs first and finds it).
    const again = await ledger.append({ case: 'merged', value: merged }, 'm.c1');
    expect(again).toBeUndefined();
    expect(ledger.state.head).toBe('h1');
    expect(ledger.state.merges).toHaveLength(1);
    const replayed = await Ledger.open(inner, STAGES);
    expect(replayed.state.merges).toHaveLength(1);
  });

  it('returns the stored original for a duplicate the state never applied', async () => {
    const inner = memoryStore();
    const writer = await Ledger.open(inner, STAGES);
    await writer.append({ case: 'swarmStarted', value: { branch: 'b', head: 'h0' } });
    const reader = await Ledger.open(inner, STAGES);
    // Stored by another ledger after `reader` was opened: `reader` has not applied it.
    await writer.append(
      { case: 'merged', value: { candidateId: 'c1', commit: 'h1', previousHead: 'h0' } },
      'm.c1',
    );
    const ev = await reader.append(
      { case: 'merged', value: { candidateId: 'c1', commit: 'h1', previousHead: 'h0' } },
      'm.c1',
    );
    expect(ev?.seq).toBe(2n);
    expect(reader.state.head).toBe('h1');
    // Applied now, so a third try is a plain duplicate.
    expect(
      await reader.append({ case: 'merged', value: { candidateId: 'c1', commit: 'h1' } }, 'm.c1'),
    ).toBeUndefined();
    expect(reader.state.merges).toHaveLength(1);
  });
});
