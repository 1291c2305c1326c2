import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetRepo } from '../../coordinator/repo.js';
import { fileDiff, speedUp } from './fast-repo.js';
import { applyTexts, parseDiff } from '../../common/diff/index.js';

const LANDSCAPE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'landscape');

describe('in-memory makeDiff', () => {
  let dir: string;
  let repo: TargetRepo;
  let head: string;
  let original: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-fastrepo-'));
    repo = await TargetRepo.open({ sourceDir: LANDSCAPE, stateDir: dir, branch: 'sim', base: 'HEAD' });
    head = await repo.head();
    original = (await repo.readFile(head, 'train.py'))!;
  });
  afterAll(async () => {
    await repo?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const edits: [string, (s: string) => string][] = [
    ['one constant', (s) => s.replace('LEARNING_RATE = 0.001', 'LEARNING_RATE = 0.002')],
    ['adjacent constants', (s) => s.replace('MODEL_DIM = 256\nN_HEADS = 4', 'MODEL_DIM = 512\nN_HEADS = 5')],
    ['two distant lines', (s) => s.replace('DEPTH = 4 ', 'DEPTH = 5 ').replace('SEED = 42', 'SEED = 7')],
    ['the top of the file', (s) => s.replace('Simulated training run', 'A simulated training run')],
    ['near the end', (s) => s.replace('    main()\n', '    main()  # run\n')],
  ];

  for (const [name, edit] of edits)
    it(`writes git's diff for ${name}`, async () => {
      const changes = [{ path: 'train.py', content: edit(original) }];
      expect(changes[0]!.content).not.toBe(original);
      const real = await repo.makeDiff(head, changes);
      const mode = (await repo.raw(['ls-tree', head, '--', 'train.py'])).split(/\s/)[0]!;
      expect(fileDiff('train.py', mode, original, changes[0]!.content)).toBe(real);
      expect(applyTexts(parseDiff(real), new Map([['train.py', original]])).get('train.py')).toBe(
        changes[0]!.content,
      );
    });

  it('leaves ambiguous changes to git and checks its own against git', async () => {
    // A new line that also exists elsewhere: git may align it differently.
    const dup = original.replace(
      'SEED = 42',
      'DEPTH = 4  # number of layers; the DEPTH environment variable overrides it',
    );
    expect(fileDiff('train.py', '100644', original, dup)).toBeUndefined();
    expect(fileDiff('train.py', '100644', original, original + 'X = 1\n')).toBeUndefined();
    expect(fileDiff('train.py', '100644', original, original)).toBe('');
    const stats = speedUp(repo, 2);
    const a = original.replace('DROPOUT = 0.1', 'DROPOUT = 0.05');
    const b = original.replace('GRAD_CLIP = 1.0', 'GRAD_CLIP = 2.0');
    await repo.makeDiff(head, [{ path: 'train.py', content: a }]);
    await repo.makeDiff(head, [{ path: 'train.py', content: b }]);
    await repo.makeDiff(head, [{ path: 'train.py', content: dup }]);
    expect(stats).toEqual({ memoryDiffs: 2, gitDiffs: 1, verified: 2 });
  });
});
