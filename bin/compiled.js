// Whether the compiled CLI in dist/ is current: built after the newest
// TypeScript (or Python) source it comes from. bin/arswarm.js runs dist/ only then, so an
// edited source is never shadowed by stale JavaScript (it runs through tsx
// until the next build). One stat per source file: about a millisecond.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The arswarm package folder. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Folders compiled into dist/ (tsconfig.build.json's `include`). */
export const SOURCE_DIRS = ['common', 'coordinator', 'worker', 'cli', 'gen'];

/** Files whose change changes the output too. */
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json'];

/** The compiled output, written by scripts/build.js. */
export function distDir(root = ROOT) {
  return join(root, 'dist');
}

/** Stamp file whose modification time is when the last complete build began. */
export function stampFile(root = ROOT) {
  return join(distDir(root), '.built');
}

/** The compiled CLI entry. */
export function compiledMain(root = ROOT) {
  return join(distDir(root), 'cli', 'main.js');
}

function newestIn(dir, acc) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return acc; // a folder that is not there (an image without sources) has nothing newer
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) acc = newestIn(p, acc);
    // Python programs beside the sources (common/python-check/checker.py) are copied into dist/ too.
    else if ((e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')) || e.name.endsWith('.py'))
      acc = Math.max(acc, statSync(p).mtimeMs);
  }
  return acc;
}

/** Modification time (ms) of the newest source the build reads; -Infinity when there are none. */
export function newestSourceMs(root = ROOT) {
  let acc = -Infinity;
  for (const d of SOURCE_DIRS) acc = newestIn(join(root, d), acc);
  for (const f of CONFIG_FILES)
    if (existsSync(join(root, f))) acc = Math.max(acc, statSync(join(root, f)).mtimeMs);
  return acc;
}

/** True when dist/ holds a complete build begun after every source's last change. */
export function distIsCurrent(root = ROOT) {
  let stampMs;
  try {
    stampMs = statSync(stampFile(root)).mtimeMs;
  } catch {
    return false;
  }
  // A source changed in the same instant the build began may have been read before the change.
  return existsSync(compiledMain(root)) && newestSourceMs(root) < stampMs;
}
