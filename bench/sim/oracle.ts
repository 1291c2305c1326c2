/**
 * A client of bench/sim/landscape-oracle.py: one persistent python3 process
 * that runs the landscape's own locked model (prepare.py), so the simulation
 * measures the decision code against the exact metric a trial would print.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { CurvePoint } from '../../common/curve.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'landscape-oracle.py');

/** One observed run of a train.py at a depth and noise seed. */
export type Observation =
  | { status: 'ok'; metric: number; trueMetric: number; curve?: CurvePoint[] }
  | { status: 'nan'; trueMetric: number; reason: string }
  | { status: 'crash'; reason: string };

interface RawAnswer {
  status: 'ok' | 'nan' | 'crash' | 'error';
  metric?: number;
  true_metric?: number;
  optimum?: number;
  reason?: string;
  curve?: [number, number][];
}

export class LandscapeOracle {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting: { resolve(a: RawAnswer): void; reject(e: Error): void }[] = [];
  private readonly trueCache = new Map<string, number>();
  private closed = false;

  /** Starts the service over the landscape directory `dir` (its prepare.py and truth.json). */
  constructor(dir: string) {
    this.proc = spawn('python3', [SCRIPT, dir], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    let stderr = '';
    this.proc.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const w = this.waiting.shift();
      if (!w) return;
      try {
        w.resolve(JSON.parse(line) as RawAnswer);
      } catch (err) {
        w.reject(new Error(`landscape oracle sent an unreadable answer: ${line}`, { cause: err }));
      }
    });
    this.proc.on('exit', (code) => {
      const err = new Error(`landscape oracle exited (${code}): ${stderr.trim()}`);
      for (const w of this.waiting.splice(0)) w.reject(err);
    });
  }

  private ask(req: Record<string, unknown>): Promise<RawAnswer> {
    if (this.closed) return Promise.reject(new Error('landscape oracle is closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.proc.stdin.write(`${JSON.stringify(req)}\n`);
    });
  }

  /**
   * The run a worker would observe: metric with noise, crash or divergence;
   * with `curve`, also the learning curve train.py prints (prepare.curve).
   */
  async evaluate(trainPy: string, depth: number, seed: number, curve = false): Promise<Observation> {
    const a = await this.ask({ op: 'eval', train_py: trainPy, depth, seed, curve });
    if (a.status === 'ok')
      return {
        status: 'ok',
        metric: a.metric!,
        trueMetric: a.true_metric!,
        ...(a.curve && { curve: a.curve.map(([fraction, value]) => ({ fraction, step: -1, value })) }),
      };
    if (a.status === 'nan') return { status: 'nan', trueMetric: a.true_metric!, reason: a.reason ?? '' };
    if (a.status === 'crash') return { status: 'crash', reason: a.reason ?? '' };
    throw new Error(`landscape oracle: ${a.reason}`);
  }

  /** The noise-free metric of a train.py at a depth (NaN for a setting that cannot run). */
  async trueMetric(trainPy: string, depth: number): Promise<number> {
    const key = `${depth}\n${trainPy}`;
    const hit = this.trueCache.get(key);
    if (hit !== undefined) return hit;
    const a = await this.ask({ op: 'true', train_py: trainPy, depth });
    if (a.status === 'error') throw new Error(`landscape oracle: ${a.reason}`);
    const v = a.status === 'ok' ? a.true_metric! : NaN;
    this.trueCache.set(key, v);
    return v;
  }

  /** The best achievable noise-free metric at a depth. */
  async optimum(depth: number): Promise<number> {
    const a = await this.ask({ op: 'optimum', depth });
    if (a.status !== 'ok') throw new Error(`landscape oracle: ${a.reason}`);
    return a.optimum!;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.stdin.end();
    await exited;
  }
}
