/**
 * Test support: a ProposalContext over in-memory files, for unit tests of
 * proposers. Diffs are real unified diffs (common/diff's maker) and
 * `check` applies the real patch rules plus an optional refusal hook.
 */
import { checkPatch, unifiedDiff, type PatchRules } from '../../common/diff/index.js';
import type { HistoryEntry } from '../../coordinator/journal.js';
import type { LlmCost, ProposalContext } from '../../coordinator/proposers/proposer.js';
import type { FileChange } from '../../coordinator/repo.js';

export interface FakeContextOptions {
  files: Record<string, string>;
  editable?: string[];
  locked?: string[];
  protected?: string[];
  maxPatchBytes?: number;
  stageParams?: string[];
  history?: HistoryEntry[];
  /** Files at other commits: commit -> path -> content. */
  commits?: Record<string, Record<string, string>>;
  /** Throw to refuse a diff (duplicates). */
  refuse?: (diff: string, title: string) => void;
  withinBudget?: () => boolean;
  signal?: AbortSignal;
}

/** The unified diff of one file replaced as a whole (common/diff's maker, as the intake makes them). */
export function wholeFileDiff(path: string, before: string, after: string): string {
  return unifiedDiff([{ path, before, after }]);
}

export interface FakeContext extends ProposalContext {
  charges: LlmCost[];
  checked: string[];
}

export function fakeContext(o: FakeContextOptions): FakeContext {
  const rules: PatchRules = {
    editable: o.editable ?? ['train.py'],
    locked: o.locked ?? [],
    protected: o.protected ?? [],
    maxPatchBytes: o.maxPatchBytes ?? 65_536,
  };
  const charges: LlmCost[] = [];
  const checked: string[] = [];
  return {
    head: 'head0000000000000000000000000000000000000',
    editable: Object.keys(o.files).filter((f) => rules.editable.includes(f)),
    files: Object.keys(o.files),
    readFile: async (p) => o.files[p],
    readFileAt: async (c, p) => o.commits?.[c]?.[p] ?? o.files[p],
    stageParams: new Set(o.stageParams ?? []),
    rules,
    journal: () => '# Research journal\n',
    history: (from = 0) => (o.history ?? []).slice(from),
    check: async (changes: FileChange[], title: string) => {
      const diff = changes.map((c) => wholeFileDiff(c.path, o.files[c.path] ?? '', c.content)).join('');
      checkPatch(diff, rules);
      o.refuse?.(diff, title);
      checked.push(diff);
      return diff;
    },
    charge: (u) => charges.push(u),
    withinBudget: o.withinBudget ?? (() => true),
    signal: o.signal ?? new AbortController().signal,
    charges,
    checked,
  };
}
