/**
 * Builds Trial messages from the config: the stage and target contract that
 * travel with every trial, and deterministic trial ids (so queueing the same
 * trial twice, e.g. after a restart, is idempotent).
 */
import { create } from '@bufbuild/protobuf';
import { maxReplicatesOf, type Config, type StageConfig } from '../common/config.js';
import { TIME_BUDGET } from '../common/config-target-rules.js';
import { overrideFile, settingsByFile, type ConstantSetting } from '../common/constant-override.js';
import { sha256, short } from '../common/git.js';
import { integritySpec } from '../common/integrity-spec.js';
import { ANY_GPU_CLASS } from '../common/subjects.js';
import {
  ConstantOverrideSchema,
  StageSchema,
  TargetSpecSchema,
  TrialKind,
  TrialSchema,
  type Stage,
  type TargetSpec,
  type Trial,
} from '../gen/arswarm/v1/trial_pb.js';
import type { TargetRepo } from './repo.js';

/** Seconds added to the budget when a stage sets no timeout. */
export const DEFAULT_TIMEOUT_MARGIN_S = 120;

/** The proto Stage for a configured stage. */
export function stageProto(s: StageConfig, index: number): Stage {
  return create(StageSchema, {
    name: s.name,
    index,
    env: s.env,
    budgetSeconds: s.budget_seconds,
    timeoutSeconds: s.timeout_seconds ?? s.budget_seconds + DEFAULT_TIMEOUT_MARGIN_S,
    replicates: s.replicates,
    maxReplicates: maxReplicatesOf(s),
    minGpuMemoryMb: s.min_gpu_memory_mb,
    rule: { z: s.promote.z, minDelta: s.promote.min_delta },
  });
}

/**
 * Seed of replicate r (0-based) at a stage. Candidates and baselines share
 * seeds so runs pair up; stages use disjoint seeds so a confirm run is never
 * a replay of a screen run with the same parameters.
 */
export function seedOf(stageIndex: number, replicate: number): number {
  return stageIndex * 1000 + replicate + 1;
}

export function candidateTrialId(
  candidateId: string,
  stage: string,
  parent: string,
  replicate: number,
  attempt: number,
): string {
  return `${candidateId}.${stage}.${short(parent)}.r${replicate + 1}.a${attempt}`;
}

export function baselineTrialId(
  parent: string,
  stage: string,
  gpuClass: string,
  replicate: number,
  attempt: number,
): string {
  return `base.${short(parent)}.${stage}.${gpuClass}.r${replicate + 1}.a${attempt}`;
}

export class TrialFactory {
  readonly stages: Stage[];
  private readonly lockedCache = new Map<string, Record<string, string>>();
  /** `<parent>\0<stage>` -> locked hashes after the stage's overrides (only stages that override a locked file). */
  private readonly stageLockedCache = new Map<string, Record<string, string>>();

  constructor(
    private readonly config: Config,
    private readonly repo: TargetRepo,
  ) {
    this.stages = config.stages.map(stageProto);
  }

  stage(index: number): Stage {
    const s = this.stages[index];
    if (!s) throw new Error(`no stage ${index}`);
    return s;
  }

  /**
   * The target contract at a parent commit (locked hashes computed once per
   * commit). With a stage, the hashes are those of the locked files after
   * that stage's constant overrides, and the overrides travel with it.
   */
  async target(parent: string, stage?: Stage): Promise<TargetSpec> {
    const t = this.config.target;
    let locked = this.lockedCache.get(parent);
    if (!locked) {
      locked = await this.repo.lockedHashes(parent, t.locked);
      this.lockedCache.set(parent, locked);
    }
    const overrides = stage ? this.overrides(stage) : [];
    if (overrides.some((o) => o.file in locked!))
      locked = await this.stageLocked(parent, stage!, locked, overrides);
    return create(TargetSpecSchema, {
      command: t.command,
      editable: t.editable,
      locked: t.locked,
      protected: t.protected,
      metric: t.metric.name,
      lowerIsBetter: t.metric.direction === 'minimize',
      maxPatchBytes: BigInt(t.max_patch_bytes),
      lockedSha256: locked,
      env: t.env,
      overrides: overrides.map((o) => create(ConstantOverrideSchema, o)),
      setup: t.setup && {
        command: t.setup.command,
        inputs: t.setup.inputs,
        envVar: t.setup.env_var,
        timeoutSeconds: t.setup.timeout_seconds,
      },
      integrity: integritySpec(t),
      // On every trial, not only those of stages with early_stop: every result
      // then records its learning curve with the configured pattern, so a stage's
      // baselines already have curves (and a spread prior) the day its early_stop
      // is switched on. The live points cost one small core-NATS message a second
      // per busy worker; the coordinator ignores those of trials it does not judge.
      // The direction is the intermediate metric's own (a loss falls even when
      // the target metric is an accuracy that rises).
      progress: { pattern: t.progress.pattern, lowerIsBetter: t.progress.direction === 'minimize' },
    });
  }

  /**
   * Constant overrides for a stage (targets that read no environment
   * variables): the stage's env values, and TIME_BUDGET from budget_seconds,
   * so the constant and the exported variable always agree.
   */
  overrides(stage: Stage): ConstantSetting[] {
    return Object.entries(this.config.target.constants).flatMap(([name, file]) => {
      const value = name === TIME_BUDGET ? String(stage.budgetSeconds) : stage.env[name];
      return value === undefined ? [] : [{ file, name, value }];
    });
  }

  /**
   * Locked hashes with the stage's overrides applied to the locked files they
   * name, by the same rewrite the worker does (common/constant-override.ts):
   * a worker's prepare.py matches only if it differs from the parent's by
   * exactly these constants.
   */
  private async stageLocked(
    parent: string,
    stage: Stage,
    base: Record<string, string>,
    overrides: readonly ConstantSetting[],
  ): Promise<Record<string, string>> {
    const key = `${parent}\0${stage.name}`;
    const hit = this.stageLockedCache.get(key);
    if (hit) return hit;
    const out = { ...base };
    for (const [file, list] of settingsByFile(overrides)) {
      if (!(file in base)) continue;
      const text = (await this.repo.readBytes(parent, file)).toString('utf8');
      out[file] = sha256(Buffer.from(overrideFile(text, file, list), 'utf8'));
    }
    this.stageLockedCache.set(key, out);
    return out;
  }

  /** The fields every trial of a stage against a parent shares: stage, target contract, seed. */
  private async common(parent: string, stageIndex: number, replicate: number, attempt: number) {
    const stage = this.stage(stageIndex);
    const target = await this.target(parent, stage);
    return {
      stage,
      target,
      parentCommit: parent,
      seed: seedOf(stageIndex, replicate),
      replicate,
      attempt,
      queuedAtMs: BigInt(Date.now()),
    };
  }

  async candidateTrial(a: {
    candidateId: string;
    parent: string;
    diff: string;
    stageIndex: number;
    replicate: number;
    attempt: number;
    /** The class whose queue it goes to (the candidate's stage is pinned to one). @default 'any' */
    gpuClass?: string;
  }): Promise<Trial> {
    const common = await this.common(a.parent, a.stageIndex, a.replicate, a.attempt);
    return create(TrialSchema, {
      ...common,
      id: candidateTrialId(a.candidateId, common.stage.name, a.parent, a.replicate, a.attempt),
      kind: TrialKind.CANDIDATE,
      candidateId: a.candidateId,
      diff: a.diff,
      gpuClass: a.gpuClass ?? ANY_GPU_CLASS,
    });
  }

  async baselineTrial(a: {
    parent: string;
    stageIndex: number;
    gpuClass: string;
    replicate: number;
    attempt: number;
  }): Promise<Trial> {
    const common = await this.common(a.parent, a.stageIndex, a.replicate, a.attempt);
    return create(TrialSchema, {
      ...common,
      id: baselineTrialId(a.parent, common.stage.name, a.gpuClass, a.replicate, a.attempt),
      kind: TrialKind.BASELINE,
      diff: '',
      gpuClass: a.gpuClass,
    });
  }
}
