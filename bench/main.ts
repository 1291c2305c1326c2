/**
 * `npm run bench -- NAME [options]` (and `npm run chaos`): runs bench/NAME.ts,
 * whose `run(args)` returns a BenchReport, and prints it as the last line of
 * stdout. Progress goes to stderr.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchReport } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !['main.ts', 'report.ts'].includes(f) && !f.endsWith('.spec.ts'))
  .map((f) => f.slice(0, -3));
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [options]\nbenchmarks: ${available.sort().join(', ')}`);
  process.exit(2);
}
const file = join(here, `${name}.ts`);
if (!existsSync(file)) process.exit(2);
const mod = (await import(pathToFileURL(file).href)) as { run(args: string[]): Promise<BenchReport> };
const report = await mod.run(args);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
