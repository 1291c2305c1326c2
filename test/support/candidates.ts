/** Test support: candidates that set one constant of the landscape's train.py. */
import type { Coordinator } from '../../coordinator/coordinator.js';

/** A diff against the current head that sets `NAME = value` in train.py. */
export async function constantDiff(
  c: Coordinator,
  name: string,
  value: string,
  base = c.ledger.state.head,
): Promise<string> {
  const text = await c.repo.readFile(base, 'train.py');
  if (text === undefined) throw new Error('no train.py at head');
  const re = new RegExp(`^${name} = [^#\\n]*`, 'm');
  if (!re.test(text)) throw new Error(`no constant ${name}`);
  return c.repo.makeDiff(base, [{ path: 'train.py', content: text.replace(re, `${name} = ${value}`) }]);
}

/** Submits a one-constant candidate as a person would. */
export async function submitConstant(
  c: Coordinator,
  name: string,
  value: string,
  title = `set ${name} to ${value}`,
): Promise<string> {
  return c.submit({
    diff: await constantDiff(c, name, value),
    title,
    hypothesis: `test: ${title}`,
    proposer: 'human',
  });
}

/** Resolves when `done()` holds, checking every 100 ms; rejects after `timeoutMs`. */
export async function until(done: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
