/**
 * The target's environment, prepared once per worker instead of once per
 * trial: every trial runs in a fresh work dir, so a per-project venv (what
 * `uv run` builds on its own) would be built again for every trial. The
 * target's `setup` command (e.g. `uv sync --frozen` with
 * UV_PROJECT_ENVIRONMENT) runs once per distinct key — the command, its
 * variable, the target env and the content of its locked input files
 * (pyproject.toml, uv.lock) — into `<workDir>/envs/<key>`, and every trial
 * gets that directory in the same variable.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArswarmError, Code } from '../common/errors.js';
import { sha256 } from '../common/git.js';
import { sha256File } from '../common/hash.js';
import type { TargetSpec, TargetSetup } from '../gen/arswarm/v1/trial_pb.js';
import { runCommand } from './run-command.js';

/** Bytes of setup output quoted in the reason of a failed setup. */
const REASON_TAIL_BYTES = 2000;

/** What one prepare needs besides the setup itself. */
export interface PrepareInput {
  readonly spec: TargetSpec;
  readonly setup: TargetSetup;
  /** A checkout of the trial's parent commit, before its patch (the setup runs here). */
  readonly tree: string;
  /** The loop's environment (allowlist, caches); the target env and the variable go on top. */
  readonly env: Record<string, string>;
  /** Setup output is appended to the trial's log. */
  readonly logFile: string;
  readonly maxLogBytes: number;
  readonly killGraceMs: number;
  readonly signal?: AbortSignal;
}

/** One worker's prepared environments, shared by its loops (one instance per directory). */
export class TargetEnvs {
  private static readonly byRoot = new Map<string, TargetEnvs>();
  private readonly pending = new Map<string, Promise<string>>();

  private constructor(readonly root: string) {}

  /** The instance for `root`, so all loops of a worker prepare each environment once. */
  static for(root: string): TargetEnvs {
    let e = TargetEnvs.byRoot.get(root);
    if (!e) TargetEnvs.byRoot.set(root, (e = new TargetEnvs(root)));
    return e;
  }

  /** The environment's key: what it was prepared from. Rejects (NotFound) when an input is missing. */
  async key(spec: TargetSpec, setup: TargetSetup, tree: string): Promise<string> {
    const inputs: [string, string][] = [];
    for (const f of [...setup.inputs].sort()) {
      try {
        inputs.push([f, await sha256File(join(tree, f))]);
      } catch (err) {
        throw new ArswarmError(Code.NotFound, `setup input ${f} is missing at the parent commit`, {
          reason: 'setup_input_missing',
          field: 'target.setup.inputs',
          cause: err,
        });
      }
    }
    const env = Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return sha256(JSON.stringify({ command: setup.command, envVar: setup.envVar, env, inputs })).slice(0, 24);
  }

  /** Prepares the environment unless it already is; resolves to its directory. */
  async ensure(p: PrepareInput): Promise<string> {
    const key = await this.key(p.spec, p.setup, p.tree);
    const dir = join(this.root, key);
    if (existsSync(this.marker(key))) return dir;
    let run = this.pending.get(key);
    if (!run) {
      run = this.prepare(key, dir, p).finally(() => this.pending.delete(key));
      this.pending.set(key, run);
    }
    return run;
  }

  private marker(key: string): string {
    return join(this.root, `${key}.ready`);
  }

  private async prepare(key: string, dir: string, p: PrepareInput): Promise<string> {
    // Trials may run as another uid (isolation): they read the env, never write it.
    await mkdir(this.root, { recursive: true, mode: 0o755 });
    // What a setup killed half-way left behind is not an environment.
    await rm(dir, { recursive: true, force: true });
    await writeFile(p.logFile, `[arswarm] preparing the target environment ${key}: ${p.setup.command}\n`, {
      flag: 'a',
    });
    const out = await runCommand({
      command: p.setup.command,
      cwd: p.tree,
      env: { ...p.env, ...p.spec.env },
      vars: { [p.setup.envVar]: dir },
      timeoutMs: (p.setup.timeoutSeconds || 1800) * 1000,
      killGraceMs: p.killGraceMs,
      logFile: p.logFile,
      maxLogBytes: p.maxLogBytes,
      keepBytes: REASON_TAIL_BYTES,
      signal: p.signal,
      sampleMs: 60_000,
    });
    if (out.exitCode !== 0 || out.signal || out.timedOut || out.aborted) {
      const how = out.timedOut
        ? `timed out after ${p.setup.timeoutSeconds} s`
        : out.aborted
          ? 'was stopped'
          : out.signal
            ? `was killed by ${out.signal}`
            : `exited with ${out.exitCode}`;
      throw new ArswarmError(
        Code.Unavailable,
        `target setup \`${p.setup.command}\` ${how}: ${out.output.trim()}`,
        {
          reason: 'setup_failed',
          retryable: true,
        },
      );
    }
    await writeFile(
      this.marker(key),
      JSON.stringify({
        key,
        command: p.setup.command,
        inputs: p.setup.inputs,
        preparedAt: new Date().toISOString(),
      }),
    );
    return dir;
  }
}
