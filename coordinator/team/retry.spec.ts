import { describe, expect, it } from 'vitest';
import { Permanent, retrying } from './retry.js';

describe('retrying', () => {
  it('retries with doubling backoff until it succeeds', async () => {
    const at: number[] = [];
    const start = Date.now();
    const out = await retrying(
      async (i) => {
        at.push(Date.now() - start);
        if (i < 3) throw new Error(`fail ${i}`);
        return 'ok';
      },
      { attempts: 5, backoffMs: 40 },
    );
    expect(out).toBe('ok');
    expect(at).toHaveLength(3);
    // 40 ms, then 80 ms.
    expect(at[2]! - at[0]!).toBeGreaterThanOrEqual(115);
  });

  it('gives up after the attempts with the last error, and at once on a Permanent one', async () => {
    const failures: number[] = [];
    await expect(
      retrying(
        async (i) => {
          throw new Error(`fail ${i}`);
        },
        { attempts: 3, backoffMs: 1, onFailure: (_e, i) => failures.push(i) },
      ),
    ).rejects.toThrow('fail 3');
    expect(failures).toEqual([1, 2, 3]);
    let calls = 0;
    await expect(
      retrying(
        async () => {
          calls++;
          throw new Permanent('refused');
        },
        { attempts: 5, backoffMs: 1 },
      ),
    ).rejects.toThrow('refused');
    expect(calls).toBe(1);
  });
});
