/**
 * `npm run bench -- cli [--runs N] [--source-runs M] [--no-build]`
 *
 * How long a person waits for the CLI: wall time of `arswarm --help` and of
 * `arswarm status` as `node bin/arswarm.js` (what `npx arswarm` runs), the
 * latter against a real swarm that `arswarm up` started (nats-server and the
 * coordinator, no workers) in a git work tree, with `status` run from the
 * tree's top so that it finds the cli.yaml `up` wrote below it by itself. For
 * comparison on the same machine and load: the same commands from the
 * TypeScript sources through tsx (`ARSWARM_FROM_SOURCE=1`), and `node -e 0`,
 * the floor any Node command pays; and the CPU time of each command, which
 * other load on the machine moves much less than wall time. Builds dist/ first when it is stale
 * (unless --no-build), and counts runs that found it stale (those ran tsx).
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { distIsCurrent } from '../bin/compiled.js';
import { packagePath } from '../common/package-root.js';
import { machine, parseArgs, percentile, progress, type BenchReport } from './report.js';

const BIN = packagePath('bin', 'arswarm.js');
const round = (x: number) => Math.round(x * 10) / 10;

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end; `ms` is spawn to exit. */
function timed(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Exit> {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => ok({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

/** Runs `args` and insists on success: a failed command is no measurement. */
async function must(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  const r = await timed(args, cwd, env);
  if (r.code !== 0)
    throw new Error(`\`arswarm ${args.slice(1).join(' ')}\` exited ${r.code}: ${r.stderr.slice(-500)}`);
  return r.ms;
}

/**
 * CPU time (user + system, ms) of a command, from bash's `time`: much less
 * moved by other load on the machine than wall time is.
 */
async function cpuMs(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  const script = 'TIMEFORMAT="%3U %3S"; time "$@" >/dev/null 2>&1';
  const r = await new Promise<Exit>((ok, fail) => {
    const child = spawn('bash', ['-c', script, 'bash', process.execPath, ...args], { cwd, env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => ok({ code, stdout: '', stderr, ms: 0 }));
  });
  const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  if (r.code !== 0 || !m)
    throw new Error(`\`arswarm ${args.slice(1).join(' ')}\` exited ${r.code}: ${r.stderr}`);
  return (Number(m[1]) + Number(m[2])) * 1000;
}

/** `arswarm up` on a copy of the landscape example in a fresh git work tree; resolves once the CLI config is written. */
async function startSwarm(root: string, env: NodeJS.ProcessEnv) {
  const target = join(root, 'target');
  cpSync(packagePath('examples', 'landscape'), target, {
    recursive: true,
    filter: (p) => !/(\.arswarm|__pycache__)$/.test(p),
  });
  execFileSync('git', ['init', '-q'], { cwd: root });
  const child = spawn(
    process.execPath,
    [
      BIN,
      'up',
      '--config',
      join(target, 'arswarm.yaml'),
      '--workers',
      '0',
      '--max-trials',
      '0',
      '--grpc-port',
      '0',
      '--http-port',
      '0',
    ],
    { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const cliYaml = join(target, '.arswarm', 'cli.yaml');
  const deadline = Date.now() + 120_000;
  while (!/CLI from here: arswarm status/.test(log) || !existsSync(cliYaml)) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`arswarm up did not start: ${log.slice(-1000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGINT');
    });
  return { stop, log: () => log };
}

export async function run(argv: string[]): Promise<BenchReport> {
  const args = parseArgs(argv);
  const runs = Number(args.runs ?? 30);
  const sourceRuns = Number(args['source-runs'] ?? 5);
  if (!(runs >= 1 && sourceRuns >= 0)) throw new Error('--runs must be >= 1 and --source-runs >= 0');
  if (args['no-build'] !== 'true' && !distIsCurrent()) {
    progress('dist/ is stale: building it (node scripts/build.js)');
    await must([packagePath('scripts', 'build.js'), '--if-stale', '--quiet'], packagePath(), process.env);
  }
  const root = mkdtempSync(join(tmpdir(), 'arswarm-bench-cli-'));
  // Nothing from the caller's shell may point the CLI elsewhere than the file `up` wrote.
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: root, XDG_CONFIG_HOME: join(root, '.config') };
  for (const k of [
    'ARSWARM_ADDR',
    'ARSWARM_TOKEN',
    'ARSWARM_CLI_CONFIG',
    'ARSWARM_CA_CERT',
    'ARSWARM_FROM_SOURCE',
  ])
    delete env[k];
  const fromSource = { ...env, ARSWARM_FROM_SOURCE: '1' };
  const swarm = await startSwarm(root, env);
  const help: number[] = [];
  const status: number[] = [];
  const bare: number[] = [];
  const helpCpu: number[] = [];
  const statusCpu: number[] = [];
  const helpSource: number[] = [];
  const statusSource: number[] = [];
  let staleRuns = 0;
  const load0 = loadavg()[0]!;
  try {
    // One warm-up each: the first run pays for a cold file cache.
    await must([BIN, '--help'], root, env);
    await must([BIN, 'status'], root, env);
    progress(`${runs} runs each of --help and status (compiled), ${sourceRuns} from source`);
    for (let i = 0; i < runs; i++) {
      if (!distIsCurrent()) staleRuns++;
      help.push(await must([BIN, '--help'], root, env));
      status.push(await must([BIN, 'status'], root, env));
      bare.push(await must(['-e', '0'], root, env));
      helpCpu.push(await cpuMs([BIN, '--help'], root, env));
      statusCpu.push(await cpuMs([BIN, 'status'], root, env));
    }
    for (let i = 0; i < sourceRuns; i++) {
      helpSource.push(await must([BIN, '--help'], root, fromSource));
      statusSource.push(await must([BIN, 'status'], root, fromSource));
    }
  } finally {
    await swarm.stop();
    rmSync(root, { recursive: true, force: true });
  }
  const figures: Record<string, number> = {
    help_ms_p50: round(percentile(help, 50)),
    help_ms_p99: round(percentile(help, 99)),
    status_ms_p50: round(percentile(status, 50)),
    status_ms_p99: round(percentile(status, 99)),
    help_cpu_ms_p50: round(percentile(helpCpu, 50)),
    status_cpu_ms_p50: round(percentile(statusCpu, 50)),
    node_ms_p50: round(percentile(bare, 50)),
    stale_runs: staleRuns,
    load_avg_1m: round(load0),
  };
  if (sourceRuns) {
    figures.help_source_ms_p50 = round(percentile(helpSource, 50));
    figures.status_source_ms_p50 = round(percentile(statusSource, 50));
  }
  progress(
    `help p50 ${figures.help_ms_p50} ms, status p50 ${figures.status_ms_p50} ms (node -e 0: ${figures.node_ms_p50} ms; from source: ${figures.help_source_ms_p50 ?? '-'} / ${figures.status_source_ms_p50 ?? '-'} ms)`,
  );
  return { bench: 'cli', machine: machine(), params: { runs, source_runs: sourceRuns }, figures };
}
