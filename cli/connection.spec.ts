import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cliConfigIssues,
  DEFAULT_ADDR,
  findCliConfig,
  parseCliConfigText,
  readCliConfig,
  resolveConnection,
} from './connection.js';

describe('CLI connection', () => {
  let dir: string;
  let cwd: string;
  const prev = process.cwd();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-conn-'));
    cwd = join(dir, 'work');
    mkdirSync(join(cwd, '.arswarm'), { recursive: true });
    mkdirSync(join(dir, 'xdg', 'arswarm'), { recursive: true });
    process.chdir(cwd);
  });

  afterEach(() => {
    process.chdir(prev);
    rmSync(dir, { recursive: true, force: true });
  });

  it('looks for the config file in the documented order', () => {
    const env = { XDG_CONFIG_HOME: join(dir, 'xdg') };
    expect(findCliConfig(undefined, env, cwd)).toBeUndefined();
    writeFileSync(join(dir, 'xdg', 'arswarm', 'cli.yaml'), 'addr: x:1\n');
    expect(findCliConfig(undefined, env, cwd)).toBe(join(dir, 'xdg', 'arswarm', 'cli.yaml'));
    writeFileSync(join(cwd, '.arswarm', 'cli.yaml'), 'addr: y:2\n');
    expect(findCliConfig(undefined, env, cwd)).toBe(join(cwd, '.arswarm', 'cli.yaml'));
    writeFileSync(join(dir, 'other.yaml'), 'addr: z:3\n');
    expect(findCliConfig(undefined, { ...env, ARSWARM_CLI_CONFIG: join(dir, 'other.yaml') }, cwd)).toBe(
      join(dir, 'other.yaml'),
    );
    expect(() => findCliConfig(join(dir, 'missing.yaml'), env, cwd)).toThrow(/no CLI config file/);
  });

  it('takes flags over the environment over the file; empty variables count as unset', () => {
    writeFileSync(join(cwd, '.arswarm', 'cli.yaml'), 'addr: file:1\ntoken: file-token\nca_cert: ca.pem\n');
    const env = { XDG_CONFIG_HOME: join(dir, 'xdg'), HOME: dir };
    expect(resolveConnection({}, env)).toEqual({
      addr: 'file:1',
      token: 'file-token',
      caCert: join(cwd, '.arswarm', 'ca.pem'),
      file: join(cwd, '.arswarm', 'cli.yaml'),
    });
    expect(resolveConnection({}, { ...env, ARSWARM_ADDR: 'env:2', ARSWARM_TOKEN: '' })).toMatchObject({
      addr: 'env:2',
      token: 'file-token',
    });
    expect(
      resolveConnection({ addr: 'flag:3', token: 'flag-token' }, { ...env, ARSWARM_ADDR: 'env:2' }),
    ).toMatchObject({ addr: 'flag:3', token: 'flag-token' });
    rmSync(join(cwd, '.arswarm', 'cli.yaml'));
    expect(resolveConnection({}, env).addr).toBe(DEFAULT_ADDR);
  });

  it('refuses unknown keys without echoing the file', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'adress: x:1\ntoken: secret-value-123\n');
    expect(() => readCliConfig(file)).toThrow(/invalid CLI config/);
    try {
      readCliConfig(file);
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-value-123');
    }
  });

  it('accepts the four string keys, refusing others, non-strings and empty values', () => {
    expect(cliConfigIssues({ addr: 'a:1', token: 't', ca_cert: 'ca.pem', dashboard: '' })).toEqual([]);
    expect(cliConfigIssues({})).toEqual([]);
    expect(cliConfigIssues({ addr: 1234 })).toEqual(['addr: expected a string']);
    expect(cliConfigIssues({ token: '' })).toEqual(['token: empty']);
    expect(cliConfigIssues({ adress: 'x' })[0]).toMatch(/^adress: unknown key/);
    expect(cliConfigIssues(['addr'])).toEqual(['expected a mapping of keys']);
    expect(cliConfigIssues('addr: x')).toEqual(['expected a mapping of keys']);
  });

  it('reads the JSON that up writes and the YAML people write alike', () => {
    const want = { addr: '127.0.0.1:1', token: 'abc' };
    expect(parseCliConfigText(`${JSON.stringify(want, null, 2)}\n`)).toEqual(want);
    expect(parseCliConfigText('# mine\naddr: 127.0.0.1:1\ntoken: "abc"\n')).toEqual(want);
    expect(parseCliConfigText('{addr: 127.0.0.1:1, token: abc}')).toEqual(want);
  });
});
