import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { afterAll, describe, expect, it } from 'vitest';
import { rulesOfSpec } from '../common/integrity-spec.js';
import { SemanticChecker, type IntegrityRules, type PatchedFile } from '../common/python-check/index.js';
import { TargetSpecSchema, TrialStatus, type TargetSpec } from '../gen/arswarm/v1/trial_pb.js';
import { checkKey, PassMemo } from './check-memo.js';
import { semanticGate } from './semantic-gate.js';

/** The real checker, counting how often it is asked. */
class CountingChecker extends SemanticChecker {
  calls = 0;
  override async check(files: readonly PatchedFile[], rules: IntegrityRules): Promise<void> {
    this.calls++;
    return super.check(files, rules);
  }
}

const spec = (extra: { locked?: string[]; lockedSha256?: Record<string, string> } = {}): TargetSpec =>
  create(TargetSpecSchema, {
    locked: ['prepare.py'],
    lockedSha256: { 'prepare.py': 'a'.repeat(64) },
    integrity: {
      semantic: true,
      evalFunctions: ['evaluate_bpb'],
      reportKeys: ['val_bpb', 'training_seconds'],
    },
    ...extra,
  });

const BEFORE =
  'from prepare import TIME_BUDGET, evaluate_bpb\nDEPTH = 8\nprint("val_bpb:", evaluate_bpb())\n';
const GOOD = BEFORE.replace('DEPTH = 8', 'DEPTH = 12');
const BAD = BEFORE.replace('DEPTH = 8', 'TIME_BUDGET = 600');

const dir = mkdtempSync(join(tmpdir(), 'arswarm-gate-'));
const checker = new CountingChecker();
afterAll(() => {
  checker.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The gate on train.py patched from BEFORE to `after`. */
function gate(after: string, memo: PassMemo, s = spec()) {
  writeFileSync(join(dir, 'train.py'), after);
  return semanticGate(dir, s, new Map([['train.py', BEFORE]]), checker, memo);
}

describe('worker semantic gate: memo of passed checks', () => {
  it('checks a patch once; its replicates pass from the memo', async () => {
    const memo = new PassMemo();
    checker.calls = 0;
    expect(await gate(GOOD, memo)).toBeUndefined();
    expect(await gate(GOOD, memo)).toBeUndefined();
    expect(await gate(GOOD, memo)).toBeUndefined();
    expect(checker.calls).toBe(1);
    expect(memo.size).toBe(1);
  });

  it('checks again when the patched text, the rules or the locked hashes differ', async () => {
    const memo = new PassMemo();
    checker.calls = 0;
    await gate(GOOD, memo);
    await gate(GOOD.replace('12', '16'), memo);
    await gate(GOOD, memo, spec({ locked: ['prepare.py', 'data.py'] }));
    await gate(GOOD, memo, spec({ lockedSha256: { 'prepare.py': 'b'.repeat(64) } }));
    expect(checker.calls).toBe(4);
    await gate(GOOD, memo);
    expect(checker.calls).toBe(4);
  });

  it('never remembers a refusal: a refused patch is refused every time', async () => {
    const memo = new PassMemo();
    checker.calls = 0;
    for (let i = 0; i < 2; i++) {
      const r = await gate(BAD, memo);
      expect(r?.status).toBe(TrialStatus.INTEGRITY);
      expect(r?.reason).toMatch(/locked-name-assign/);
    }
    expect(checker.calls).toBe(2);
    expect(memo.size).toBe(0);
  });

  it('a pass of one patch does not let another through', async () => {
    const memo = new PassMemo();
    await gate(GOOD, memo);
    expect((await gate(BAD, memo))?.status).toBe(TrialStatus.INTEGRITY);
  });
});

describe('check memo', () => {
  const rules = rulesOfSpec(spec())!;

  it('keys tell apart a missing file, an empty one, and parts moved between fields', () => {
    const keys = [
      checkKey([{ path: 'a.py', before: undefined, after: 'x' }], rules),
      checkKey([{ path: 'a.py', before: '', after: 'x' }], rules),
      checkKey([{ path: 'a.py', before: 'x', after: '' }], rules),
      checkKey([{ path: 'a.py', before: 'x', after: undefined }], rules),
      checkKey([{ path: 'a.pyx', before: '', after: '' }], rules),
      checkKey([{ path: 'a.py', before: 'x', after: 'x' }], { ...rules, lockedNames: ['X'] }),
      checkKey([{ path: 'a.py', before: 'x', after: 'x' }], rules),
      checkKey([{ path: 'a.py', before: 'x', after: 'x' }], rules, { 'prepare.py': 'c' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    // Equal inputs, equal keys (map order does not matter).
    expect(checkKey([{ path: 'a.py', before: 'x', after: 'x' }], rules, { p: '1', q: '2' })).toBe(
      checkKey([{ path: 'a.py', before: 'x', after: 'x' }], rules, { q: '2', p: '1' }),
    );
  });

  it('is bounded and drops the least recently used key', () => {
    const m = new PassMemo(2);
    m.add('a');
    m.add('b');
    expect(m.has('a')).toBe(true); // a is now the most recent
    m.add('c'); // drops b
    expect(m.size).toBe(2);
    expect(m.has('b')).toBe(false);
    expect(m.has('a')).toBe(true);
    expect(m.has('c')).toBe(true);
  });
});
