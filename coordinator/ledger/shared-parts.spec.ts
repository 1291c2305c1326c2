import { create, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  ConstantOverrideSchema,
  StageSchema,
  TargetSpecSchema,
  TrialSchema,
} from '../../gen/arswarm/v1/trial_pb.js';
import { SharedParts, stageKey, targetKey } from './shared-parts.js';

const stage = () =>
  create(StageSchema, {
    name: 'screen',
    index: 0,
    env: { DEPTH: '4', B: '1' },
    budgetSeconds: 300,
    timeoutSeconds: 420,
    replicates: 1,
    maxReplicates: 3,
    minGpuMemoryMb: 0,
    rule: { z: 1, minDelta: 0 },
  });
const target = () =>
  create(TargetSpecSchema, {
    command: 'python3 train.py',
    editable: ['train.py'],
    locked: ['prepare.py'],
    protected: ['^print'],
    metric: 'val_bpb',
    lowerIsBetter: true,
    maxPatchBytes: 65536n,
    lockedSha256: { 'prepare.py': 'ab' },
    overrides: [{ file: 'train.py', name: 'DEPTH', value: '4' }],
    env: { A: '1' },
    setup: { command: 'uv sync --frozen', inputs: ['uv.lock'], envVar: 'VENV', timeoutSeconds: 600 },
    integrity: {
      semantic: true,
      evalFunctions: ['evaluate_bpb'],
      frozen: [{ file: 'train.py', startPattern: '^val_bpb = ', endPattern: '' }],
      wallToleranceSeconds: 2,
    },
    progress: { pattern: 'loss: (?<value>[0-9.]+)', lowerIsBetter: true },
  });

/** Every field of the message, changed one at a time, must change the key. */
function eachFieldChanges<D extends DescMessage>(
  schema: D,
  make: () => MessageShape<D>,
  key: (m: MessageShape<D>) => string,
) {
  const base = key(make());
  for (const f of schema.fields) {
    const m = make() as Record<string, unknown>;
    const name = f.localName;
    if (f.fieldKind === 'scalar' || f.fieldKind === 'enum') {
      const v = m[name];
      m[name] =
        typeof v === 'string'
          ? `${v}x`
          : typeof v === 'boolean'
            ? !v
            : typeof v === 'bigint'
              ? v + 1n
              : Number(v) + 1;
    } else if (f.fieldKind === 'list') {
      const list = m[name] as unknown[];
      list.push(
        f.listKind === 'message'
          ? create(ConstantOverrideSchema, { file: 'x', name: 'Y', value: '1' })
          : 'extra',
      );
    } else if (f.fieldKind === 'map') {
      (m[name] as Record<string, string>).zz = 'new';
    } else if (f.fieldKind === 'message') {
      m[name] = undefined;
    }
    expect(key(m as MessageShape<D>), `field ${name}`).not.toBe(base);
  }
  // Nested fields too: each of the rule's and of an override's fields.
}

describe('shared trial parts', () => {
  it('keys tell every field of Stage and TargetSpec apart', () => {
    eachFieldChanges(StageSchema, stage, stageKey);
    eachFieldChanges(TargetSpecSchema, target, targetKey);
    const r = stage();
    r.rule!.minDelta = 0.5;
    expect(stageKey(r)).not.toBe(stageKey(stage()));
    for (const k of ['file', 'name', 'value'] as const) {
      const t = target();
      t.overrides[0]![k] += 'x';
      expect(targetKey(t)).not.toBe(targetKey(target()));
    }
    const setup = target();
    setup.setup!.inputs.push('pyproject.toml');
    expect(targetKey(setup)).not.toBe(targetKey(target()));
    const progress = target();
    progress.progress!.pattern += '!';
    expect(targetKey(progress)).not.toBe(targetKey(target()));
    const integrity = target();
    integrity.integrity!.frozen[0]!.endPattern = '^# end';
    expect(targetKey(integrity)).not.toBe(targetKey(target()));
    // Map order does not matter; list order does.
    const reordered = stage();
    reordered.env = { B: '1', DEPTH: '4' };
    expect(stageKey(reordered)).toBe(stageKey(stage()));
  });

  it('points equal parts of different trials at one object', () => {
    const parts = new SharedParts();
    const a = create(TrialSchema, { id: 'a', stage: stage(), target: target() });
    const b = create(TrialSchema, { id: 'b', stage: stage(), target: target() });
    const c = create(TrialSchema, { id: 'c', stage: { ...stage(), name: 'confirm' }, target: target() });
    for (const t of [a, b, c]) parts.share(t);
    expect(b.stage).toBe(a.stage);
    expect(b.target).toBe(a.target);
    expect(c.stage).not.toBe(a.stage);
    expect(c.target).toBe(a.target);
  });
});
