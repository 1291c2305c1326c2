import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiKeyGetter, withoutProposerSecrets } from './api-key.js';

describe('API key', () => {
  it('reads the key from a Secret file (re-read each time) before the environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arswarm-key-'));
    const file = join(dir, 'key');
    writeFileSync(file, 'sk-file-1\n');
    const get = apiKeyGetter({ file, env: { ANTHROPIC_API_KEY: 'sk-env' } });
    expect(await get()).toBe('sk-file-1');
    writeFileSync(file, 'sk-file-2');
    expect(await get()).toBe('sk-file-2');
    expect(await apiKeyGetter({ env: { ANTHROPIC_API_KEY: ' sk-env ' } })()).toBe('sk-env');
  });

  it('fails at construction without a key, and never shows a key in the error', () => {
    expect(() => apiKeyGetter({ env: {}, field: 'proposers[0].api_key_file' })).toThrow(/needs an API key/);
    const dir = mkdtempSync(join(tmpdir(), 'arswarm-key-'));
    writeFileSync(join(dir, 'empty'), '  \n');
    expect(() => apiKeyGetter({ file: join(dir, 'empty'), env: { ANTHROPIC_API_KEY: 'sk-secret' } })).toThrow(
      /is empty/,
    );
    try {
      apiKeyGetter({ file: join(dir, 'missing'), env: { ANTHROPIC_API_KEY: 'sk-secret' } });
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('sk-secret');
    }
  });

  it('strips proposer credentials from an environment for workers', () => {
    expect(withoutProposerSecrets({ PATH: '/bin', ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'u' })).toEqual(
      { PATH: '/bin' },
    );
  });
});
