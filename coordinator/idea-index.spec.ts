import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { CandidateSchema, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { IdeaIndex } from './idea-index.js';
import { Ledger, memoryStore } from './ledger/ledger.js';

const diff = (name: string, value: number) =>
  `--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-${name} = 1\n+${name} = ${value}\n`;
const candidate = (id: string, title: string, d: string) =>
  create(CandidateSchema, { id, title, diff: d, parentCommit: 'p' });

async function ledgerWith(...cs: ReturnType<typeof candidate>[]) {
  const ledger = await Ledger.open(memoryStore(), ['screen']);
  for (const c of cs) await ledger.append({ case: 'candidateProposed', value: { candidate: c } });
  return ledger;
}
const reject = (ledger: Ledger, candidateId: string) =>
  ledger.append({
    case: 'verdict',
    value: { candidateId, kind: VerdictKind.REJECT, stage: 'screen', reason: 'worse' },
  });

describe('IdeaIndex', () => {
  it('finds the earliest candidate an idea repeats, by title (active only) or effect', async () => {
    const ledger = await ledgerWith(
      candidate('c1', 'Raise LR', diff('LR', 2)),
      candidate('c2', 'other', diff('WD', 2)),
    );
    const ideas = new IdeaIndex(ledger);
    expect(ideas.firstClash('raise lr', '', 'new')).toMatchObject({
      by: 'title',
      v: { candidate: { id: 'c1' } },
    });
    expect(ideas.firstClash('x', 'train.py:WD=2', 'new')).toBeUndefined(); // not an effect key
    const effectOfC2 = (await import('./proposers/effect.js')).effectKey(diff('WD', 2));
    expect(ideas.firstClash('x', effectOfC2, 'new')).toMatchObject({
      by: 'effect',
      v: { candidate: { id: 'c2' } },
    });
    // Itself is no clash.
    expect(ideas.firstClash('raise lr', '', 'c1')).toBeUndefined();
    // A rejected candidate still blocks its effect but not its title.
    await reject(ledger, 'c1');
    expect(ideas.firstClash('raise lr', '', 'new')).toBeUndefined();
    // Candidates recorded after the index was built are found too; the earlier clash wins.
    await ledger.append({
      case: 'candidateProposed',
      value: { candidate: candidate('c3', 'WD up', diff('WD', 2)) },
    });
    expect(ideas.firstClash('wd up', effectOfC2, 'new')).toMatchObject({
      by: 'effect',
      v: { candidate: { id: 'c2' } },
    });
    await reject(ledger, 'c2');
    await ledger.append({
      case: 'candidateRefused',
      value: { candidate: candidate('c4', 'x', diff('WD', 2)), reason: 'r' },
    });
    expect(ideas.firstClash('wd up', effectOfC2, 'new')).toMatchObject({
      by: 'effect',
      v: { candidate: { id: 'c2' } },
    });
    // One candidate matching both: the title is reported.
    expect(ideas.firstClash('wd up', effectOfC2, 'c2')).toMatchObject({
      by: 'title',
      v: { candidate: { id: 'c3' } },
    });
  });
});
