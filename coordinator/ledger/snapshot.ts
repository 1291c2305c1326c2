/**
 * A ledger state as bytes and back, so a restart loads the state at some
 * sequence and replays only the events after it. The bytes are JSON of every
 * field of LedgerState (proto messages as their plain objects, bigints and
 * non-finite numbers as strings, put back by descriptor), with each trial's Stage and TargetSpec written
 * once and referenced by index, and a candidate trial's diff referenced when
 * it is its candidate's: the bulk of a 100k-trial replay is decoding those
 * repeated parts. `SNAPSHOT_VERSION` changes whenever the layout does; a
 * snapshot of another version is ignored (full replay).
 */
import {
  CandidateAuditedSchema,
  CandidateFlaggedSchema,
  CandidateSchema,
  VerdictSchema,
} from '../../gen/arswarm/v1/candidate_pb.js';
import { MergedSchema, TrialStoppedSchema, type TrialStopped } from '../../gen/arswarm/v1/event_pb.js';
import {
  StageSchema,
  TargetSpecSchema,
  TrialKind,
  TrialResultSchema,
  TrialSchema,
  TrialStartedSchema,
  type Stage,
  type TargetSpec,
  type Trial,
} from '../../gen/arswarm/v1/trial_pb.js';
import { performance } from 'node:perf_hooks';
import { reviverOf } from './snapshot-revive.js';
import { LedgerState, type CandidateView, type Sample, type StageCounts, type TrialView } from './state.js';

/** Layout version of the serialized state. */
export const SNAPSHOT_VERSION = 2;

/** How a trial's diff is written: its own text, or a reference to its candidate's. */
const DIFF_OWN = 0;
const DIFF_CURRENT = 1;
const DIFF_ORIGINAL = 2;

/** One trial: the Trial without stage and target, their indexes, and the rest of its view. */
type TrialRow = [
  trial: Trial,
  stage: number,
  target: number,
  diff: number,
  started: TrialView['started'] | null,
  result: TrialView['result'] | null,
  resultSeq: bigint | null,
];

/** One rerun (`arswarm rerun`): kept whole, apart from the ladder's trials (state.ts). */
type RerunRow = [
  trial: Trial,
  started: TrialView['started'] | null,
  result: TrialView['result'] | null,
  resultSeq: bigint | null,
];

interface StateView {
  version: number;
  stageNames: string[];
  scalars: {
    branch: string;
    head: string;
    lastSeq: bigint;
    paused: boolean;
    events: number;
    finished: number;
    proposerFailures: number;
    costUsd: number;
    auditTokens: number;
    auditCostUsd: number;
  };
  heads: string[];
  merges: LedgerState['merges'];
  candidates: CandidateView[];
  diffKeys: [string, string][];
  stages: Stage[];
  targets: TargetSpec[];
  trials: TrialRow[];
  pending: string[];
  samples: [string, Sample[]][];
  stageCounts: [string, StageCounts][];
  stops?: TrialStopped[];
  reruns: RerunRow[];
}

/** 64-bit integers and non-finite numbers as strings; snapshot-revive.ts puts them back by descriptor. */
function replacer(this: unknown, _k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v === 0n && isMessage(this) ? undefined : String(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  // A proto field at its default is left out (a third of the bytes at 100k
  // trials); snapshot-revive.ts fills it in from the descriptor.
  if (isMessage(this) && isDefault(v)) return undefined;
  return v;
}

const isMessage = (o: unknown): boolean => typeof o === 'object' && o !== null && '$typeName' in o;

function isDefault(v: unknown): boolean {
  if (v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  // An empty map; a message (even an empty one) is never left out: it is set.
  return (
    typeof v === 'object' &&
    v !== null &&
    !('$typeName' in v) &&
    Object.keys(v).length === 0 &&
    !(v instanceof Uint8Array)
  );
}

const num = (v: unknown): number => (typeof v === 'string' ? Number(v) : (v as number));
const big = (v: unknown): bigint => BigInt(v as string);

/** Index of each distinct value (by its canonical key) in first-seen order. */
function indexer<T>(keyOf: (x: T) => string): { list: T[]; of(x: T | undefined): number } {
  const list: T[] = [];
  const byObject = new Map<T, number>();
  const byKey = new Map<string, number>();
  return {
    list,
    of(x) {
      if (!x) return -1;
      let i = byObject.get(x);
      if (i !== undefined) return i;
      const key = keyOf(x);
      i = byKey.get(key);
      if (i === undefined) {
        i = list.length;
        list.push(x);
        byKey.set(key, i);
      }
      byObject.set(x, i);
      return i;
    },
  };
}

/**
 * What a snapshot holds of the state at one moment: every mutable part copied
 * (views shallowly, lists sliced; the proto messages in them are never
 * changed once applied), so it can be encoded while events are applied.
 * Linear in the state's size, but a fraction of encoding it.
 */
interface Frozen {
  stageNames: string[];
  scalars: StateView['scalars'];
  heads: string[];
  merges: LedgerState['merges'];
  candidates: CandidateView[];
  diffKeys: [string, string][];
  trials: TrialView[];
  pending: string[];
  samples: [string, Sample[]][];
  stageCounts: [string, StageCounts][];
  stops: TrialStopped[];
  reruns: TrialView[];
}

function freeze(s: LedgerState): Frozen {
  const view = (tv: TrialView): TrialView => ({ ...tv });
  return {
    stageNames: [...s.stageNames],
    scalars: {
      branch: s.branch,
      head: s.head,
      lastSeq: s.lastSeq,
      paused: s.paused,
      events: s.events,
      finished: s.finished,
      proposerFailures: s.proposerFailures,
      costUsd: s.costUsd,
      auditTokens: s.auditTokens,
      auditCostUsd: s.auditCostUsd,
    },
    heads: [...s.heads],
    merges: [...s.merges],
    candidates: Array.from(s.candidates.values(), (v) => ({
      ...v,
      verdicts: [...v.verdicts],
      flags: [...v.flags],
    })),
    diffKeys: [...s.diffKeys.entries()],
    trials: Array.from(s.trials.values(), view),
    pending: [...s.pending],
    samples: Array.from(s.samples, ([k, list]): [string, Sample[]] => [k, [...list]]),
    stageCounts: Array.from(s.stageCounts, ([k, c]): [string, StageCounts] => [k, { ...c }]),
    stops: [...s.stops.values()],
    reruns: Array.from(s.reruns.values(), view),
  };
}

/**
 * JSON text with every non-ASCII character written as a \\u escape, so the
 * snapshot is pure ASCII: it then decodes into a one-byte string (half the
 * memory of the two-byte string a single Δ in a verdict reason would make
 * of 60 MB, and a few times faster to decode). JSON.parse reads it back
 * unchanged; a surrogate pair becomes two escapes, which it joins again.
 */
function ascii(text: string): string {
  return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Array items encoded between two looks at the clock. */
const ITEMS_PER_STEP = 500;

const COMMA = Buffer.from(',');

/** A JSON array as byte pieces, encoded a step of items at a time (a `yield` between steps). */
function* jsonArray<T>(items: readonly T[], map: (x: T) => unknown = (x) => x): Generator<void, Buffer[]> {
  const out: Buffer[] = [Buffer.from('[')];
  for (let at = 0; at < items.length; at += ITEMS_PER_STEP) {
    const text = ascii(JSON.stringify(items.slice(at, at + ITEMS_PER_STEP).map(map), replacer));
    if (at > 0) out.push(COMMA);
    out.push(Buffer.from(text.slice(1, -1)));
    yield;
  }
  out.push(Buffer.from(']'));
  return out;
}

/**
 * The bytes of a frozen state, in steps: the JSON of StateView, key by key
 * and a few hundred items at a time, the same bytes as one JSON.stringify (non-ASCII escaped) of
 * the whole view would give.
 */
function* encode(f: Frozen): Generator<void, Uint8Array> {
  // Keyed by every field (not SharedParts' keys: a field they miss must not merge two parts here).
  const stages = indexer<Stage>((x) => JSON.stringify(x, replacer));
  const targets = indexer<TargetSpec>((x) => JSON.stringify(x, replacer));
  const candidates = new Map(f.candidates.map((v) => [v.candidate.id, v]));
  const row = (tv: TrialView): TrialRow => {
    const t = tv.trial;
    const v = t.candidateId ? candidates.get(t.candidateId) : undefined;
    const diff =
      v && t.diff === v.diff ? DIFF_CURRENT : v && t.diff === v.candidate.diff ? DIFF_ORIGINAL : DIFF_OWN;
    return [
      { ...t, stage: undefined, target: undefined, diff: diff === DIFF_OWN ? t.diff : '' } as Trial,
      stages.of(t.stage),
      targets.of(t.target),
      diff,
      tv.started ?? null,
      tv.result ? ({ ...tv.result, trial: undefined } as unknown as TrialView['result']) : null,
      tv.resultSeq ?? null,
    ];
  };
  const rerun = (rv: TrialView): RerunRow => [
    rv.trial,
    rv.started ?? null,
    rv.result ? ({ ...rv.result, trial: undefined } as unknown as TrialView['result']) : null,
    rv.resultSeq ?? null,
  ];
  // Trials first: their rows fill the stage and target lists, which come before them.
  const trials = yield* jsonArray(f.trials, row);
  const pieces: Buffer[] = [];
  const key = (k: keyof StateView, first = false) => pieces.push(Buffer.from(`${first ? '{' : ','}"${k}":`));
  const plain = (k: keyof StateView, v: unknown, first = false) => {
    key(k, first);
    pieces.push(Buffer.from(ascii(JSON.stringify(v, replacer))));
  };
  const list = function* <T>(k: keyof StateView, items: readonly T[], map?: (x: T) => unknown) {
    key(k);
    pieces.push(...(yield* jsonArray(items, map)));
  };
  plain('version', SNAPSHOT_VERSION, true);
  plain('stageNames', f.stageNames);
  plain('scalars', f.scalars);
  plain('heads', f.heads);
  plain('merges', f.merges);
  yield* list('candidates', f.candidates);
  yield* list('diffKeys', f.diffKeys);
  plain('stages', stages.list);
  plain('targets', targets.list);
  key('trials');
  pieces.push(...trials);
  yield* list('pending', f.pending);
  yield* list('samples', f.samples);
  plain('stageCounts', f.stageCounts);
  plain('stops', f.stops);
  yield* list('reruns', f.reruns, rerun);
  pieces.push(Buffer.from('}'));
  yield;
  return Buffer.concat(pieces);
}

/** The state as bytes, at once (the event loop is held until they are done). */
export function serializeState(s: LedgerState): Uint8Array {
  const steps = encode(freeze(s));
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The same bytes without holding the event loop for long: the state is
 * copied at once (the snapshot is of this moment; events applied meanwhile
 * are not in it), then encoded in slices of about `sliceMs`, the loop running
 * between them. `maxBlockMs` is the longest slice (the copy included).
 */
export async function serializeStateAsync(
  s: LedgerState,
  sliceMs = 10,
): Promise<{ data: Uint8Array; maxBlockMs: number }> {
  let from = performance.now();
  const steps = encode(freeze(s));
  let maxBlockMs = 0;
  for (;;) {
    const r = steps.next();
    const now = performance.now();
    if (r.done) return { data: r.value, maxBlockMs: Math.max(maxBlockMs, now - from) };
    if (now - from >= sliceMs) {
      maxBlockMs = Math.max(maxBlockMs, now - from);
      await new Promise((ok) => setImmediate(ok));
      from = performance.now();
    }
  }
}

/**
 * The state written by serializeState; undefined when the bytes are of
 * another version or another ladder (the caller then replays everything).
 * Throws on bytes that are not a snapshot at all.
 */
export function deserializeState(bytes: Uint8Array, stageNames: readonly string[]): LedgerState | undefined {
  const view = JSON.parse(new TextDecoder().decode(bytes)) as StateView;
  if (view.version !== SNAPSHOT_VERSION) return undefined;
  if (view.stageNames.join('\n') !== stageNames.join('\n')) return undefined;
  revive(view);
  const s = new LedgerState(stageNames);
  Object.assign(s, view.scalars);
  s.heads = view.heads;
  s.merges.push(...view.merges);
  for (const v of view.candidates) s.candidates.set(v.candidate.id, v);
  for (const [k, id] of view.diffKeys) s.diffKeys.set(k, id);
  // Each distinct part goes through SharedParts once (not once per trial: 0.4 s at 100k trials).
  const stages = view.stages.map((stage) => {
    const carrier = { stage } as Trial;
    s.parts.share(carrier);
    return carrier.stage;
  });
  const targets = view.targets.map((target) => {
    const carrier = { target } as Trial;
    s.parts.share(carrier);
    return carrier.target;
  });
  for (const [t, stage, target, diff, started, result, resultSeq] of view.trials) {
    const v = t.candidateId ? s.candidates.get(t.candidateId) : undefined;
    if (diff === DIFF_CURRENT && v) t.diff = v.diff;
    else if (diff === DIFF_ORIGINAL && v) t.diff = v.candidate.diff;
    if (stage >= 0) t.stage = stages[stage];
    if (target >= 0) t.target = targets[target];
    const tv: TrialView = { trial: t };
    if (started) tv.started = started;
    // The parsed object is this view's own: completed in place, not copied (100k copies at 100k trials).
    if (result) tv.result = Object.assign(result, { trial: t });
    if (resultSeq !== null) tv.resultSeq = resultSeq;
    s.trials.set(t.id, tv);
    // The same indexes LedgerState.index keeps.
    if (t.kind !== TrialKind.BASELINE) {
      const list = s.byCandidate.get(t.candidateId) ?? [];
      list.push(tv);
      s.byCandidate.set(t.candidateId, list);
    } else {
      const key = `${t.parentCommit}|${t.stage?.name ?? ''}|${t.gpuClass}`;
      const list = s.baselineTrials.get(key) ?? [];
      list.push(tv);
      s.baselineTrials.set(key, list);
    }
  }
  for (const id of view.pending) s.pending.add(id);
  for (const [k, list] of view.samples) s.samples.set(k, list);
  for (const [k, c] of view.stageCounts) s.stageCounts.set(k, c);
  for (const x of view.stops ?? []) s.stops.set(x.trialId, x);
  for (const [trial, started, result, resultSeq] of view.reruns) {
    const rv: TrialView = { trial };
    if (started) rv.started = started;
    if (result) rv.result = Object.assign(result, { trial });
    if (resultSeq !== null) rv.resultSeq = resultSeq;
    s.reruns.set(trial.id, rv);
  }
  return s;
}

/** Puts back the bigints and non-finite numbers the JSON holds as strings. */
function revive(view: StateView): void {
  const stage = reviverOf(StageSchema);
  const target = reviverOf(TargetSpecSchema);
  const trial = reviverOf(TrialSchema);
  const started = reviverOf(TrialStartedSchema);
  const result = reviverOf(TrialResultSchema);
  const merged = reviverOf(MergedSchema);
  const candidate = reviverOf(CandidateSchema);
  const verdict = reviverOf(VerdictSchema);
  const flag = reviverOf(CandidateFlaggedSchema);
  const audit = reviverOf(CandidateAuditedSchema);
  const stop = reviverOf(TrialStoppedSchema);
  type O = Record<string, unknown>;
  view.scalars.lastSeq = big(view.scalars.lastSeq);
  for (const x of view.stages) stage(x as unknown as O);
  for (const x of view.targets) target(x as unknown as O);
  for (const x of view.merges) merged(x as unknown as O);
  for (const v of view.candidates) {
    candidate(v.candidate as unknown as O);
    for (const x of v.verdicts) verdict(x as unknown as O);
    for (const x of v.flags) flag(x as unknown as O);
    if (v.audit) audit(v.audit as unknown as O);
  }
  for (const row of view.trials) {
    trial(row[0] as unknown as O);
    if (row[4]) started(row[4] as unknown as O);
    if (row[5]) result(row[5] as unknown as O);
    if (row[6] !== null) row[6] = big(row[6]);
  }
  for (const [, list] of view.samples) for (const x of list) x.metric = num(x.metric);
  for (const x of view.stops ?? []) stop(x as unknown as O);
  for (const row of view.reruns) {
    trial(row[0] as unknown as O);
    if (row[1]) started(row[1] as unknown as O);
    if (row[2]) result(row[2] as unknown as O);
    if (row[3] !== null) row[3] = big(row[3]);
  }
  for (const [, c] of view.stageCounts) {
    c.okMin = num(c.okMin);
    c.okMax = num(c.okMax);
  }
}
