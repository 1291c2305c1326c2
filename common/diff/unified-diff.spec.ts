import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { carryOver } from './carry.js';
import { checkPatch } from './check.js';
import { diffLines, unifiedDiff } from './make.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random edit of a text: lines changed, inserted and deleted here and there, EOL at the end or not. */
function mutate(text: string, r: () => number): string {
  const ls = text.split('\n');
  for (let i = 0; i < 1 + Math.floor(r() * 6); i++) {
    const at = Math.floor(r() * (ls.length + 1));
    const what = r();
    if (what < 0.4) ls.splice(at, 1, `changed ${Math.floor(r() * 1e6)}`);
    else if (what < 0.7) ls.splice(at, 0, `inserted ${Math.floor(r() * 1e6)}`);
    else ls.splice(at, 1);
  }
  let out = ls.join('\n');
  const eol = r();
  if (eol < 0.2) out = out.replace(/\n$/, '');
  else if (eol < 0.4 && !out.endsWith('\n')) out += '\n';
  return out;
}

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' });

describe('unified diff', () => {
  it('finds the shortest edit script', () => {
    const ops = diffLines(['a', 'b', 'c', 'a', 'b', 'b', 'a'], ['c', 'b', 'a', 'b', 'a', 'c']);
    expect(ops.filter((o) => o.kind !== ' ')).toHaveLength(5);
    expect(diffLines([], [])).toEqual([]);
    expect(diffLines(['x'], [])).toEqual([{ kind: '-', line: 'x' }]);
  });

  it('writes git-style hunks with context, and nothing for no change', () => {
    const before = Array.from({ length: 20 }, (_, i) => `L${i + 1}`).join('\n') + '\n';
    const after = before.replace('L2\n', 'L2x\n').replace('L18\n', 'L18x\n');
    expect(unifiedDiff([{ path: 'f.py', before, after }])).toBe(
      [
        'diff --git a/f.py b/f.py',
        '--- a/f.py',
        '+++ b/f.py',
        '@@ -1,5 +1,5 @@',
        ' L1',
        '-L2',
        '+L2x',
        ' L3',
        ' L4',
        ' L5',
        '@@ -15,6 +15,6 @@',
        ' L15',
        ' L16',
        ' L17',
        '-L18',
        '+L18x',
        ' L19',
        ' L20',
        '',
      ].join('\n'),
    );
    expect(unifiedDiff([{ path: 'f.py', before, after: before }])).toBe('');
  });

  it('applies with git apply and passes the patch checks, for many random edits', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arswarm-udiff-'));
    git(dir, 'init', '-q');
    const r = rng(42);
    const base = Array.from({ length: 60 }, (_, i) => `line ${i} ${'x'.repeat(i % 7)}`).join('\n') + '\n';
    for (let round = 0; round < 60; round++) {
      const before = round % 10 === 0 ? '' : mutate(base, r);
      const after = mutate(before || base, r);
      writeFileSync(join(dir, 'train.py'), before);
      const diff = unifiedDiff([{ path: 'train.py', before, after }]);
      if (before === after) {
        expect(diff).toBe('');
        continue;
      }
      checkPatch(diff, { editable: ['train.py'], locked: [], protected: [], maxPatchBytes: 1e6 });
      writeFileSync(join(dir, 'p.diff'), diff);
      git(dir, 'apply', '--whitespace=nowarn', 'p.diff');
      expect(readFileSync(join(dir, 'train.py'), 'utf8'), `round ${round}\n${diff}`).toBe(after);
    }
  });

  it('carries a diff onto a newer text like git apply does, or refuses with a conflict', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arswarm-uapply-'));
    git(dir, 'init', '-q');
    const r = rng(7);
    const base = Array.from({ length: 80 }, (_, i) => `row ${i}`).join('\n') + '\n';
    let applied = 0;
    let conflicts = 0;
    for (let round = 0; round < 80; round++) {
      const proposal = mutate(base, r);
      const head = mutate(base, r);
      const diff = unifiedDiff([{ path: 'train.py', before: base, after: proposal }]);
      if (!diff) continue;
      writeFileSync(join(dir, 'train.py'), head);
      writeFileSync(join(dir, 'p.diff'), diff);
      let gitResult: string | undefined;
      try {
        execFileSync('git', ['-C', dir, 'apply', '--whitespace=nowarn', 'p.diff'], { stdio: 'ignore' });
        gitResult = readFileSync(join(dir, 'train.py'), 'utf8');
      } catch {
        gitResult = undefined;
      }
      let ours: string | undefined;
      try {
        ours = carryOver(diff, new Map([['train.py', head]])).get('train.py');
      } catch (err) {
        expect((err as { reason?: string }).reason).toBe('conflict');
      }
      // Where git applies with full context, we apply the same; with less context we apply more often.
      if (ours !== undefined) {
        if (gitResult !== undefined) expect(ours, `round ${round}\n${diff}`).toBe(gitResult);
        applied++;
      } else {
        if (gitResult !== undefined) throw new Error(`round ${round}: git applies, we do not\n${diff}`);
        conflicts++;
      }
      // Every line the proposal removed is gone and every line it added is there.
      if (ours !== undefined)
        for (const l of diff.split('\n').filter((x) => /^\+[^+]/.test(x))) expect(ours).toContain(l.slice(1));
    }
    expect(applied).toBeGreaterThan(10);
    expect(conflicts).toBeGreaterThan(0);
  });

  it('applies a change whose context changed meanwhile (a neighbouring constant), keeping both', () => {
    const base = ['A = 1', 'B = 2', 'C = 3', 'D = 4', 'E = 5', ''].join('\n');
    const diff = unifiedDiff([{ path: 'f.py', before: base, after: base.replace('A = 1', 'A = 10') }]);
    const head = base.replace('C = 3', 'C = 30');
    expect(carryOver(diff, new Map([['f.py', head]])).get('f.py')).toBe(head.replace('A = 1', 'A = 10'));
    // The removed line itself must still be there.
    expect(() => carryOver(diff, new Map([['f.py', base.replace('A = 1', 'A = 2')]]))).toThrow(
      /no longer applies/,
    );
  });

  it('keeps a missing newline at the end of a file', () => {
    const before = 'A = 1\nB = 2';
    const diff = unifiedDiff([{ path: 'f.py', before, after: 'A = 1\nB = 3' }]);
    expect(diff).toContain('\\ No newline at end of file');
    expect(carryOver(diff, new Map([['f.py', `X = 0\n${before}`]])).get('f.py')).toBe('X = 0\nA = 1\nB = 3');
  });
});
