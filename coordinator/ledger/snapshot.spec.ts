import { describe, expect, it } from 'vitest';
import type { Event } from '../../gen/arswarm/v1/event_pb.js';
import { ledgerEvents, STAGES } from '../../test/support/ledger-events.js';
import { deserializeState, serializeState, serializeStateAsync, SNAPSHOT_VERSION } from './snapshot.js';
import { LedgerState } from './state.js';

function replayed(events: readonly Event[]): LedgerState {
  const s = new LedgerState(STAGES);
  for (const ev of events) s.apply(ev);
  return s;
}

describe('ledger snapshots', () => {
  const events = ledgerEvents(4000, 3);
  const full = replayed(events);

  it('state from a snapshot plus the tail equals the state from a full replay, byte for byte', () => {
    for (const cut of [1, 17, 999, 2500, 3999, 4000]) {
      const snap = serializeState(replayed(events.slice(0, cut)));
      const s = deserializeState(snap, STAGES)!;
      for (const ev of events.slice(cut)) s.apply(ev);
      expect(Buffer.from(serializeState(s)).equals(Buffer.from(serializeState(full))), `cut at ${cut}`).toBe(
        true,
      );
      // The indexes the serialized view does not hold are rebuilt the same.
      for (const v of full.candidates.values()) {
        const id = v.candidate.id;
        expect(s.candidateTrials(id).map((t) => t.trial.id)).toEqual(
          full.candidateTrials(id).map((t) => t.trial.id),
        );
        for (const st of STAGES)
          for (const cls of ['cpu', 'any']) {
            expect(s.candidateSamples(id, v.parent, st, cls)).toEqual(
              full.candidateSamples(id, v.parent, st, cls),
            );
            expect(s.baselineTrialsOf(v.parent, st, cls).map((t) => t.trial.id)).toEqual(
              full.baselineTrialsOf(v.parent, st, cls).map((t) => t.trial.id),
            );
          }
      }
      expect([...s.pending]).toEqual([...full.pending]);
      expect(s.stageCounts).toEqual(full.stageCounts);
    }
  });

  it('keeps NaN, infinities and bigints, and the shared parts shared', () => {
    const s = deserializeState(serializeState(full), STAGES)!;
    const nan = [...full.trials.values()].find((t) => Number.isNaN(t.result?.metric))!;
    expect(Number.isNaN(s.trials.get(nan.trial.id)!.result!.metric)).toBe(true);
    expect(s.merges.at(-1)?.metricAfter).toBe(-Infinity);
    const t = [...s.trials.values()];
    expect(typeof t[0]!.trial.queuedAtMs).toBe('bigint');
    expect(typeof t[0]!.trial.target?.maxPatchBytes).toBe('bigint');
    expect(typeof t.find((x) => x.result)!.result!.runMs).toBe('bigint');
    expect(typeof [...s.candidates.values()][0]!.candidate.usage?.inputTokens).toBe('bigint');
    expect(t[0]!.trial.target).toBe(t[1]!.trial.target);
    expect(t[0]!.result?.trial ?? t[0]!.trial).toBe(t[0]!.trial);
    expect(s.lastSeq).toBe(4000n);
  });

  it('the sliced encoding gives the same bytes, of the state when it was called', async () => {
    const s = replayed(events.slice(0, 2500));
    const at = Buffer.from(serializeState(s));
    // Slices of 0 ms: the loop runs between every step, and events are applied meanwhile.
    const pending = serializeStateAsync(s, 0);
    let applied = 0;
    const feeder = setInterval(() => {
      for (const ev of events.slice(2500 + applied, 2500 + applied + 50)) s.apply(ev);
      applied += 50;
    }, 0);
    const { data, maxBlockMs } = await pending;
    clearInterval(feeder);
    expect(applied).toBeGreaterThan(0);
    expect(s.lastSeq).toBeGreaterThan(2500n);
    expect(Buffer.from(data).equals(at)).toBe(true);
    expect(maxBlockMs).toBeGreaterThan(0);
    expect(
      Buffer.from((await serializeStateAsync(full)).data).equals(Buffer.from(serializeState(full))),
    ).toBe(true);
  });

  it('is pure ASCII, and gives back every non-ASCII character (Δ, σ, an emoji) as it was', () => {
    const s = replayed(events.slice(0, 200));
    const v = [...s.candidates.values()][0]!;
    const title = 'Δ lr 3e-4 → 6e-4, σ ≤ 0.001 😀';
    v.candidate = { ...v.candidate, title, hypothesis: 'naïve \u2028 line sep' };
    const bytes = serializeState(s);
    expect(bytes.every((b) => b < 0x80)).toBe(true);
    const back = deserializeState(bytes, STAGES)!;
    expect(back.candidates.get(v.candidate.id)!.candidate.title).toBe(title);
    expect(back.candidates.get(v.candidate.id)!.candidate.hypothesis).toBe('naïve \u2028 line sep');
    // A snapshot written before the escaping (raw UTF-8) still reads.
    const raw = new TextEncoder().encode(JSON.stringify(JSON.parse(new TextDecoder().decode(bytes))));
    expect(raw.some((b) => b >= 0x80)).toBe(true);
    expect(deserializeState(raw, STAGES)!.candidates.get(v.candidate.id)!.candidate.title).toBe(title);
  });

  it('refuses a snapshot of another layout or ladder', () => {
    const bytes = serializeState(full);
    expect(deserializeState(bytes, ['screen', 'scale'])).toBeUndefined();
    const other = new TextEncoder().encode(
      new TextDecoder()
        .decode(bytes)
        .replace(`"version":${SNAPSHOT_VERSION}`, `"version":${SNAPSHOT_VERSION + 1}`),
    );
    expect(deserializeState(other, STAGES)).toBeUndefined();
    expect(() => deserializeState(new TextEncoder().encode('{"vers'), STAGES)).toThrow();
  });
});
