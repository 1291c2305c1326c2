/**
 * Unified diffs, for every role: one parser (parse.ts), the patch policy
 * (check.ts), one hunk applier, exact or with fuzz (apply.ts), carrying a
 * diff onto another commit (carry.ts) and making diffs from texts (make.ts).
 */
export { applyHunks, applyTexts, type ApplyOptions, type ApplyTextsOptions, type Mismatch } from './apply.js';
export { carriedPaths, carryOver } from './carry.js';
export {
  checkPatch,
  DEFAULT_MAX_PATCH_BYTES,
  targetSpecRules,
  type CheckedPatch,
  type PatchRules,
} from './check.js';
export { fromLines, toLines, type Line } from './lines.js';
export { diffLines, fileHunks, unifiedDiff, type FileEdit, type HunkOptions, type Op } from './make.js';
export { parseDiff, type DiffLine, type FileDiff, type Hunk, type ParseVisitor } from './parse.js';
export type { PatchRefusal } from './refusal.js';
