import { describe, expect, it } from 'vitest';
import { wholeFileDiff } from '../../test/support/proposal-context.js';
import { canonicalValue, describeEffect, diffEffect, effectKey } from './effect.js';

const base = ['LEARNING_RATE = 0.001', 'DROPOUT = 0.1', 'def f():', '    return 1', ''].join('\n');
const set = (from: string, to: string, text = base) =>
  wholeFileDiff('train.py', text, text.replace(from, to));

describe('effect', () => {
  it('canonicalises numbers by value', () => {
    expect(canonicalValue('2e-3')).toBe('0.002');
    expect(canonicalValue(' 0.0020  # comment')).toBe('0.002');
    expect(canonicalValue('1_000')).toBe('1000');
    expect(canonicalValue("'adam'  # opt")).toBe("'adam'");
  });

  it('sees the same constant set to the same value as one effect, whatever the parent or spelling', () => {
    const a = set('LEARNING_RATE = 0.001', 'LEARNING_RATE = 0.002');
    const b = set('LEARNING_RATE = 0.001', 'LEARNING_RATE = 2e-3  # doubled');
    const otherParent = 'LEARNING_RATE = 0.004\nDROPOUT = 0.05\ndef f():\n    return 1\n';
    const c = set('LEARNING_RATE = 0.004', 'LEARNING_RATE = 0.002', otherParent);
    expect(effectKey(a)).not.toBe('');
    expect(effectKey(b)).toBe(effectKey(a));
    expect(effectKey(c)).toBe(effectKey(a));
    expect(effectKey(set('LEARNING_RATE = 0.001', 'LEARNING_RATE = 0.003'))).not.toBe(effectKey(a));
    expect(effectKey(set('DROPOUT = 0.1', 'DROPOUT = 0.002'))).not.toBe(effectKey(a));
    expect(describeEffect(a)).toBe('train.py: LEARNING_RATE = 0.002');
  });

  it('compares other lines by normalised text, and a pure reformat has no effect', () => {
    const code = set('    return 1', '    return  2   # two');
    const same = set('    return 1', '    return 2');
    expect(effectKey(code)).toBe(effectKey(same));
    expect(diffEffect(code).get('train.py')).toEqual({
      constants: [],
      added: ['return 2'],
      removed: ['return 1'],
    });
    expect(effectKey(set('    return 1', '    return 1  # same'))).toBe('');
    expect(effectKey(set('LEARNING_RATE = 0.001', 'LEARNING_RATE = 1e-3'))).toBe('');
  });

  it('does not take a # inside a string for a comment', () => {
    const d = set('    return 1', '    return "#1"');
    expect(diffEffect(d).get('train.py')!.added).toEqual(['return "#1"']);
  });
});
