import { execFileSync } from 'node:child_process';
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  existsSync,
  mkdirSync,
  cpSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPatch } from '../common/diff/index.js';
import { applyPatch } from './apply-patch.js';

const rules = { editable: ['**'], locked: [], protected: [], maxPatchBytes: 1 << 20 };
const tmp = mkdtempSync(join(tmpdir(), 'arswarm-apply-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@l',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@l',
};
const git = (dir: string, ...a: string[]) => execFileSync('git', a, { cwd: dir, env, encoding: 'utf8' });

let n = 0;
/** Commits `before`, then `after`, and returns the real `git diff` plus a copy of the `before` tree. */
function scenario(before: Record<string, string>, after: Record<string, string | null>) {
  const repo = join(tmp, `r${++n}`);
  mkdirSync(repo);
  git(repo, 'init', '-q');
  for (const [p, t] of Object.entries(before)) writeFileSync(join(repo, p), t);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'a', '--allow-empty');
  const work = join(tmp, `w${n}`);
  cpSync(repo, work, { recursive: true, filter: (p) => !p.includes('.git') });
  for (const [p, t] of Object.entries(after)) {
    if (t === null) rmSync(join(repo, p));
    else writeFileSync(join(repo, p), t);
  }
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'b');
  return { diff: git(repo, 'diff', 'HEAD~1', 'HEAD'), work, repo };
}

const long = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n') + '\n';

describe('applyPatch matches git', () => {
  it.each([
    ['one edit', { 'a.py': long }, { 'a.py': long.replace('line 20', 'LINE 20') }],
    ['two hunks', { 'a.py': long }, { 'a.py': long.replace('line 2\n', 'x\ny\n').replace('line 35', 'z') }],
    ['append without final newline', { 'a.py': 'a\nb' }, { 'a.py': 'a\nb\nc\n' }],
    ['drop final newline', { 'a.py': 'a\nb\n' }, { 'a.py': 'a\nc' }],
    ['new and deleted files', { 'a.py': 'a\n', 'b.py': 'b\n' }, { 'c.py': 'new\n', 'b.py': null }],
    ['CRLF lines', { 'a.py': 'a\r\nb\r\n' }, { 'a.py': 'a\r\nB\r\n' }],
  ])('%s', async (_name, before, after) => {
    const { diff, work, repo } = scenario(before, after);
    await applyPatch(work, checkPatch(diff, rules).sections);
    for (const p of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const want = existsSync(join(repo, p)) ? readFileSync(join(repo, p), 'utf8') : null;
      const got = existsSync(join(work, p)) ? readFileSync(join(work, p), 'utf8') : null;
      expect(got).toBe(want);
    }
  });

  it('applies at an offset when lines moved', async () => {
    const { diff, work } = scenario({ 'a.py': long }, { 'a.py': long.replace('line 30', 'changed') });
    writeFileSync(join(work, 'a.py'), 'extra 1\nextra 2\n' + long);
    await applyPatch(work, checkPatch(diff, rules).sections);
    expect(readFileSync(join(work, 'a.py'), 'utf8')).toBe(
      'extra 1\nextra 2\n' + long.replace('line 30', 'changed'),
    );
  });

  it('refuses a hunk whose context does not match', async () => {
    const { diff, work } = scenario({ 'a.py': long }, { 'a.py': long.replace('line 30', 'changed') });
    writeFileSync(join(work, 'a.py'), long.replace('line 29', 'drifted'));
    await expect(applyPatch(work, checkPatch(diff, rules).sections)).rejects.toThrow(
      /hunk 1 of a.py does not match/,
    );
  });

  it('sets the executable bit and refuses to write through a symlink', async () => {
    const { diff, work } = scenario({ 'a.py': 'a\n' }, { 'a.py': 'b\n' });
    const chmodDiff = diff
      .replace('index ', 'old mode 100644\nnew mode 100755\nindex ')
      .replace(/index (\w+)\.\.(\w+) 100644/, 'index $1..$2');
    await applyPatch(work, checkPatch(chmodDiff, rules).sections);
    expect(statSync(join(work, 'a.py')).mode & 0o111).not.toBe(0);
    rmSync(join(work, 'a.py'));
    writeFileSync(join(tmp, 'outside.py'), 'b\n');
    symlinkSync(join(tmp, 'outside.py'), join(work, 'a.py'));
    const back = scenario({ 'a.py': 'b\n' }, { 'a.py': 'c\n' }).diff;
    await expect(applyPatch(work, checkPatch(back, rules).sections)).rejects.toThrow(/symlink/);
    expect(readFileSync(join(tmp, 'outside.py'), 'utf8')).toBe('b\n');
  });
});
