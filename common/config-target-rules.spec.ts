import { describe, expect, it } from 'vitest';
import { parseConfig } from './config-load.js';

/** An autoresearch-shaped config; `edit` changes the raw object before parsing. */
function config(
  edit: (c: { target: Record<string, unknown>; stages: Record<string, unknown>[] }) => void = () => {},
) {
  const raw = {
    target: {
      repo: '.',
      editable: ['train.py'],
      locked: ['prepare.py', 'pyproject.toml', 'uv.lock'],
      command: 'uv run --no-sync train.py',
      constants: { DEPTH: 'train.py', TIME_BUDGET: 'prepare.py' } as Record<string, string>,
    } as Record<string, unknown>,
    stages: [
      { name: 'screen', env: { DEPTH: 8 }, budget_seconds: 300 },
      { name: 'scale', env: { DEPTH: 12 }, budget_seconds: 600 },
    ] as Record<string, unknown>[],
  };
  edit(raw);
  return () => parseConfig(raw, 'test.yaml');
}

const constants = (c: { target: Record<string, unknown> }) => c.target.constants as Record<string, string>;

describe('target.constants, target.setup and stage env rules', () => {
  it('accepts a locked TIME_BUDGET that no stage env sets (budget_seconds is its value)', () => {
    expect(config()().target.constants).toEqual({ DEPTH: 'train.py', TIME_BUDGET: 'prepare.py' });
  });

  it('refuses a constant in a file that is neither editable nor locked', () => {
    expect(config((c) => (constants(c).DEPTH = 'model.py'))).toThrow(
      /target\.constants\.DEPTH: model\.py is neither editable nor locked/,
    );
  });

  it('takes a file that is editable and locked as locked (as patches and hashes do), and refuses a glob', () => {
    expect(config((c) => (c.target.editable = ['*.py']))().target.constants.TIME_BUDGET).toBe('prepare.py');
    expect(config((c) => (constants(c).DEPTH = '*.py'))).toThrow(
      /target\.constants\.DEPTH: must name one file/,
    );
  });

  it('refuses a constant no stage sets, except TIME_BUDGET', () => {
    expect(config((c) => (constants(c).WIDTH = 'train.py'))).toThrow(
      /target\.constants\.WIDTH: no stage sets WIDTH in its env/,
    );
  });

  it('refuses a stage value that is not a Python literal, naming the stage field', () => {
    expect(config((c) => (c.stages[1]!.env = { DEPTH: '12; import os' }))).toThrow(
      /stages\[1\]\.env\.DEPTH: is written into train\.py as the constant DEPTH, so it must be a Python literal/,
    );
  });

  it('refuses TIME_BUDGET in a stage env or the target env: budget_seconds is the one place', () => {
    expect(config((c) => (c.stages[0]!.env = { DEPTH: 8, TIME_BUDGET: 30 }))).toThrow(
      /stages\[0\]\.env\.TIME_BUDGET: TIME_BUDGET is exported from budget_seconds/,
    );
    expect(config((c) => (c.target.env = { TIME_BUDGET: 30 }))).toThrow(/target\.env\.TIME_BUDGET:/);
  });

  it('accepts a setup keyed by locked files and refuses unlocked inputs, globs and taken variable names', () => {
    const setup = {
      command: 'uv sync --frozen',
      inputs: ['pyproject.toml', 'uv.lock'],
      env_var: 'UV_PROJECT_ENVIRONMENT',
    };
    expect(config((c) => (c.target.setup = setup))().target.setup).toEqual({
      ...setup,
      timeout_seconds: 1800,
    });
    expect(config((c) => (c.target.setup = { ...setup, inputs: ['pyproject.toml', 'train.py'] }))).toThrow(
      /target\.setup\.inputs\[1\]: train\.py is not locked/,
    );
    expect(config((c) => (c.target.setup = { ...setup, inputs: ['*.lock'] }))).toThrow(
      /target\.setup\.inputs\[0\]: must name one file/,
    );
    expect(config((c) => (c.target.setup = { ...setup, env_var: 'SEED' }))).toThrow(
      /target\.setup\.env_var: SEED is reserved/,
    );
    expect(
      config((c) => {
        c.target.setup = setup;
        c.stages[0]!.env = { DEPTH: 8, UV_PROJECT_ENVIRONMENT: '/x' };
      }),
    ).toThrow(/stages\[0\]\.env\.UV_PROJECT_ENVIRONMENT: UV_PROJECT_ENVIRONMENT is target\.setup\.env_var/);
  });
});
