import { describe, expect, it } from 'vitest';
import { ranks, spearman } from './transfer-report.js';

describe('rank correlation', () => {
  it('ranks with ties averaged', () => {
    expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
  });
  it('is 1 for the same order, -1 for the reverse, NaN below 3 pairs', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 45])).toBeCloseTo(1, 10);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 10);
    expect(spearman([1, 2], [1, 2])).toBeNaN();
  });
});
