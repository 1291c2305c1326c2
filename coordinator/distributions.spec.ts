import { describe, expect, it } from 'vitest';
import { normalCdf, normalQuantile, studentTCdf, studentTQuantile } from './distributions.js';

describe('normal', () => {
  it('matches tabulated values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1)).toBeCloseTo(0.841345, 5);
    expect(normalCdf(-2)).toBeCloseTo(0.0227501, 6);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
  });
});

describe('student t', () => {
  it('matches tabulated quantiles', () => {
    // One-sided critical values from standard tables.
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.302653, 4);
    expect(studentTQuantile(0.95, 4)).toBeCloseTo(2.131847, 4);
    expect(studentTQuantile(0.99, 10)).toBeCloseTo(2.763769, 4);
    expect(studentTQuantile(0.9995, 1)).toBeCloseTo(636.6192, 1);
    expect(studentTQuantile(0.841345, 1e9)).toBeCloseTo(1, 4);
  });
  it('is the inverse of its CDF and symmetric', () => {
    for (const df of [1, 2, 3, 7.5, 30])
      for (const p of [0.6, 0.9, 0.99, 0.9999]) {
        const t = studentTQuantile(p, df);
        expect(studentTCdf(t, df)).toBeCloseTo(p, 8);
        expect(studentTQuantile(1 - p, df)).toBeCloseTo(-t, 6);
      }
  });
  it('has no quantile without degrees of freedom', () => {
    expect(studentTQuantile(0.9, 0)).toBeNaN();
  });
});
