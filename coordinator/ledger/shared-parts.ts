/**
 * The parts every trial repeats — its Stage and its TargetSpec — kept once:
 * every trial of a stage at a parent carries equal ones, and a replay of
 * 100k trials otherwise holds 100k decoded copies of each (hundreds of MB).
 * Equal messages are found by a canonical key of every field (a test checks
 * that each field of the proto changes the key).
 */
import { toJsonString } from '@bufbuild/protobuf';
import {
  IntegritySpecSchema,
  ProgressSpecSchema,
  TargetSetupSchema,
  type Stage,
  type TargetSpec,
  type Trial,
} from '../../gen/arswarm/v1/trial_pb.js';

const entries = (m: Readonly<Record<string, string>>) =>
  Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Equal for equal stages, different otherwise. */
export function stageKey(s: Stage): string {
  return JSON.stringify([
    s.name,
    s.index,
    entries(s.env),
    s.budgetSeconds,
    s.timeoutSeconds,
    s.replicates,
    s.maxReplicates,
    s.minGpuMemoryMb,
    s.rule ? [s.rule.z, s.rule.minDelta] : null,
  ]);
}

/** Equal for equal target specs, different otherwise. */
export function targetKey(t: TargetSpec): string {
  return JSON.stringify([
    t.command,
    t.editable,
    t.locked,
    t.protected,
    t.metric,
    t.lowerIsBetter,
    String(t.maxPatchBytes),
    entries(t.lockedSha256),
    t.overrides.map((o) => [o.file, o.name, o.value]),
    entries(t.env),
    // Nested messages without maps: their JSON is canonical.
    t.setup ? toJsonString(TargetSetupSchema, t.setup) : null,
    t.integrity ? toJsonString(IntegritySpecSchema, t.integrity) : null,
    t.progress ? toJsonString(ProgressSpecSchema, t.progress) : null,
  ]);
}

export class SharedParts {
  private readonly stages = new Map<string, Stage>();
  private readonly targets = new Map<string, TargetSpec>();

  /** Points the trial at the shared Stage and TargetSpec equal to its own. */
  share(t: Trial): void {
    if (t.stage) t.stage = once(this.stages, stageKey(t.stage), t.stage);
    if (t.target) t.target = once(this.targets, targetKey(t.target), t.target);
  }
}

function once<T>(m: Map<string, T>, key: string, v: T): T {
  const have = m.get(key);
  if (have) return have;
  m.set(key, v);
  return v;
}
