/**
 * Test support: a ProposalContext over in-memory files, for unit tests of
 * proposers. Diffs are real unified diffs (`diff -u` shaped, made here) and
 * `check` applies the real patch rules plus an optional refusal hook.
 */
import { checkPatch, type PatchRules } from '../../common/diff/index.js';
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

/** A minimal unified diff of whole-file replacements (one hunk per file). */
export function wholeFileDiff(path: string, before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  if (a.at(-1) === '') a.pop();
  if (b.at(-1) === '') b.pop();
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  if (start === endA && start === endB) return '';
  const ctxStart = Math.max(0, start - 3);
  const ctxEndA = Math.min(a.length, endA + 3);
  const ctxEndB = Math.min(b.length, endB + 3);
  const lines = [
    `diff --git a/${path} b/${path}`,
    `--- a/${path}`,
    `+++ b/${path}`,
    `@@ -${ctxStart + 1},${ctxEndA - ctxStart} +${ctxStart + 1},${ctxEndB - ctxStart} @@`,
    ...a.slice(ctxStart, start).map((l) => ` ${l}`),
    ...a.slice(start, endA).map((l) => `-${l}`),
    ...b.slice(start, endB).map((l) => `+${l}`),
    ...a.slice(endA, ctxEndA).map((l) => ` ${l}`),
  ];
  return `${lines.join('\n')}\n`;
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
