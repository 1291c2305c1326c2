import { describe, expect, it } from 'vitest';
import { hasModuleConstant, overrideConstant, overrideFile } from './constant-override.js';

const src = [
  'import torch',
  'DEPTH = 8  # model depth',
  'def f():',
  '    DEPTH = 3',
  'LR: float = 0.04',
  '',
].join('\n');

describe('overrideConstant', () => {
  it('rewrites the module-level assignment and keeps the comment', () => {
    const out = overrideConstant(src, 'DEPTH', '12');
    expect(out).toContain('DEPTH = 12  # model depth');
    expect(out).toContain('    DEPTH = 3');
  });

  it('handles annotated assignments', () => {
    expect(overrideConstant(src, 'LR', '0.01')).toContain('LR: float = 0.01');
  });

  it('refuses a constant that is not there, or an indented-only one', () => {
    expect(() => overrideConstant(src, 'SEED', '1')).toThrow(/no module-level assignment SEED/);
    expect(() => overrideConstant('def f():\n    X = 1\n', 'X', '2')).toThrow();
  });

  it('accepts literals only', () => {
    expect(overrideConstant(src, 'DEPTH', '"deep"')).toContain('DEPTH = "deep"');
    expect(overrideConstant(src, 'LR', '1e-3')).toContain('LR: float = 1e-3');
    expect(() => overrideConstant(src, 'DEPTH', '1\nimport os')).toThrow(/not a literal/);
    expect(() => overrideConstant(src, 'DEPTH', '__import__("os").system("x")')).toThrow(/not a literal/);
  });

  it('finds module-level assignments only', () => {
    expect(hasModuleConstant(src, 'DEPTH')).toBe(true);
    expect(hasModuleConstant(src, 'LR')).toBe(true);
    expect(hasModuleConstant('def f():\n    X = 1\n', 'X')).toBe(false);
    expect(hasModuleConstant('DEPTH_MAX = 3\n', 'DEPTH')).toBe(false);
  });

  it("applies every setting of one file, in order, and leaves other files' settings alone", () => {
    const out = overrideFile(src, 'train.py', [
      { file: 'train.py', name: 'DEPTH', value: '12' },
      { file: 'prepare.py', name: 'LR', value: '9' },
      { file: 'train.py', name: 'LR', value: '0.5' },
    ]);
    expect(out).toContain('DEPTH = 12  # model depth');
    expect(out).toContain('LR: float = 0.5');
  });
});
