/**
 * arswarm's own folder (where package.json, examples/, web/, program.md and
 * bin/ live), the same whether this module runs from its TypeScript source
 * (common/) or from the compiled output (dist/common/). Files that sit beside
 * the code are found through it, never by counting `..` from a module.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder above `from` that holds a package.json (dist/ has none of its own). */
export function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The arswarm package folder. */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the arswarm package folder. */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
