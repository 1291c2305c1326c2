import { describe, expect, it } from 'vitest';
import { withDefaults } from './option-defaults.js';

describe('withDefaults', () => {
  const defaults = { attempts: 5, backoffMs: 1000, name: 'claude' };

  it('lays given fields over the defaults and keeps the rest', () => {
    expect(withDefaults(defaults, { attempts: 2 })).toEqual({ attempts: 2, backoffMs: 1000, name: 'claude' });
  });

  it('keeps the default for an explicit undefined (an unset config field passed through)', () => {
    expect(withDefaults(defaults, { attempts: undefined, name: undefined })).toEqual(defaults);
  });

  it('keeps falsy values that are given (0, empty string, false)', () => {
    expect(withDefaults({ ...defaults, on: true }, { attempts: 0, name: '', on: false })).toEqual({
      attempts: 0,
      backoffMs: 1000,
      name: '',
      on: false,
    });
  });

  it('reads only the keys of the defaults and changes neither object', () => {
    const given = { attempts: 3, log: () => undefined };
    const out = withDefaults(defaults, given);
    expect(Object.keys(out).sort()).toEqual(['attempts', 'backoffMs', 'name']);
    expect(defaults.attempts).toBe(5);
    expect(given.attempts).toBe(3);
  });
});
