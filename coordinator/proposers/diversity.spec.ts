import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../journal.js';
import { modeWeights, ModePicker, planFor, type Mode } from './diversity.js';

const e = (id: string, over: Partial<HistoryEntry>): HistoryEntry => ({
  id,
  title: `idea ${id}`,
  hypothesis: '',
  proposer: 'claude',
  status: 'rejected',
  stage: 'screen',
  passed: [],
  nearMiss: false,
  reason: '',
  parent: 'p',
  diff: '',
  createdAtMs: 0,
  ...over,
});
const even = { explore: 1, exploit: 1, combine: 1, ablation: 1 };

describe('diversity', () => {
  it('skips modes the journal cannot support yet', () => {
    expect(modeWeights([], even)).toEqual({ explore: 1, exploit: 0, combine: 0, ablation: 1 });
    const oneWinner = [e('c1', { status: 'kept', delta: 0.01 })];
    expect(modeWeights(oneWinner, even).exploit).toBeGreaterThan(0);
    expect(modeWeights(oneWinner, even).combine).toBe(0);
    const twoNearMisses = [
      e('c1', { delta: 0.001, nearMiss: true }),
      e('c2', { delta: 0.002, nearMiss: true }),
    ];
    expect(modeWeights(twoNearMisses, even).combine).toBe(1);
  });

  it('favours exploring after a run of rejections', () => {
    const stuck = Array.from({ length: 8 }, (_, i) => e(`c${i}`, { delta: -0.01 }));
    expect(modeWeights(stuck, even).explore).toBe(2);
  });

  it('rotates the modes by weight, deterministically', () => {
    const history = [
      e('c1', { status: 'kept', delta: 0.01, passed: ['screen', 'confirm', 'scale'] }),
      e('c2', { delta: 0.002, nearMiss: true }),
      e('c3', { delta: 0.001, nearMiss: true }),
    ];
    const picker = new ModePicker({ explore: 2, exploit: 1, combine: 1, ablation: 0 });
    const counts: Record<Mode, number> = { explore: 0, exploit: 0, combine: 0, ablation: 0 };
    for (let i = 0; i < 40; i++) counts[picker.next(history).mode]++;
    // exploit is doubled by the fresh win: explore 2, exploit 2, combine 1 of every 5.
    expect(counts).toEqual({ explore: 16, exploit: 16, combine: 8, ablation: 0 });
  });

  it('names the ideas a plan builds on', () => {
    const history = [e('c2', { delta: 0.002, nearMiss: true }), e('c3', { delta: 0.004, nearMiss: true })];
    const p = planFor('combine', history, 0, 'val_bpb');
    expect(p.refs).toEqual(['c3', 'c2']);
    expect(p.instructions).toMatch(/COMBINE/);
    expect(p.instructions).toContain('c3 "idea c3" (screen Δ +0.0040)');
    expect(planFor('ablation', [], 0, 'val_bpb').instructions).toMatch(/simpler script at equal val_bpb/);
  });
});
