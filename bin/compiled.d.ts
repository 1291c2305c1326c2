// Types of bin/compiled.js, for the TypeScript that imports it (bench, tests).
/** The arswarm package folder. */
export const ROOT: string;
/** Folders compiled into dist/. */
export const SOURCE_DIRS: readonly string[];
/** The compiled output folder. */
export function distDir(root?: string): string;
/** Stamp file whose modification time is when the last complete build began. */
export function stampFile(root?: string): string;
/** The compiled CLI entry. */
export function compiledMain(root?: string): string;
/** Modification time (ms) of the newest source the build reads; -Infinity when there are none. */
export function newestSourceMs(root?: string): number;
/** True when dist/ holds a complete build begun after every source's last change. */
export function distIsCurrent(root?: string): boolean;
