/** The benchmark output contract (../shared/BENCH.md): one JSON object, last line of stdout. */
import { cpus } from 'node:os';

export interface BenchReport {
  bench: string;
  machine: { cpus: number; node: string };
  params: Record<string, unknown>;
  figures: Record<string, number>;
}

/** Facts about this machine, as every report carries them. */
export function machine(): BenchReport['machine'] {
  return { cpus: cpus().length, node: process.version };
}

/** Percentile (0..100) of a list of numbers, nearest-rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Progress for people: stderr only, so stdout stays one JSON line. */
export function progress(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/** Parses `--key value` / `--flag` options into a record. */
export function parseArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    const k = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const v = eq < 0 ? undefined : a.slice(eq + 1);
    if (v !== undefined) out[k] = v;
    else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--')) out[k] = args[++i]!;
    else out[k] = 'true';
  }
  return out;
}
