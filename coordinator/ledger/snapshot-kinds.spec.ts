/**
 * Every kind of ledger event survives a snapshot: a ledger holding each case
 * of the Event oneof (enumerated from the proto descriptor, so a new kind
 * without an entry here fails), cut at every point, restored from the
 * snapshot plus the tail, deep-equals a full replay: every field of
 * LedgerState, compared structurally, not a chosen few.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { CandidateState, VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { EventSchema, type Event } from '../../gen/arswarm/v1/event_pb.js';
import { TrialKind, TrialStatus, type TrialSchema } from '../../gen/arswarm/v1/trial_pb.js';
import { deserializeState, serializeState } from './snapshot.js';
import { LedgerState } from './state.js';

type Body = NonNullable<MessageInitShape<typeof EventSchema>['body']>;
type Kind = NonNullable<Event['body']['case']>;

const STAGES = ['screen', 'confirm', 'scale'];

const trial = (
  id: string,
  kind: TrialKind,
  candidateId: string,
  head: string,
  stage: string,
): MessageInitShape<typeof TrialSchema> => ({
  id,
  kind,
  candidateId,
  parentCommit: head,
  diff: candidateId ? `--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-X = 1\n+X = ${candidateId}\n` : '',
  seed: 7,
  gpuClass: 'cpu',
  queuedAtMs: 1700000000123n,
  stage: { name: stage, index: STAGES.indexOf(stage), env: { DEPTH: '4' }, budgetSeconds: 300 },
  target: { command: 'python3 train.py', lockedSha256: { 'prepare.py': 'ff' }, maxPatchBytes: 65536n },
});

/**
 * Events of each kind for round `r` (ids made unique by it). The Record type
 * makes the compiler ask for every case; the test below asks the descriptor.
 */
const KINDS: Record<Kind, (r: number, head: string) => Body[]> = {
  swarmStarted: (r) => [{ case: 'swarmStarted', value: { branch: 'arswarm/main', head: `h${r}` } }],
  candidateProposed: (r, head) =>
    [`c${r}a`, `c${r}b`, `c${r}c`].map((id) => ({
      case: 'candidateProposed',
      value: {
        candidate: {
          id,
          parentCommit: head,
          diff: `--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-X = 1\n+X = ${id}\n`,
          title: id,
          usage: { costUsd: 0.25, inputTokens: 1000n, outputTokens: 20n },
        },
      },
    })),
  candidateRefused: (r, head) => [
    {
      case: 'candidateRefused',
      value: { candidate: { id: `c${r}r`, parentCommit: head, diff: 'x' }, reason: 'duplicate', code: 'dup' },
    },
  ],
  trialQueued: (r, head) => [
    { case: 'trialQueued', value: { trial: trial(`t${r}c`, TrialKind.CANDIDATE, `c${r}a`, head, 'screen') } },
    { case: 'trialQueued', value: { trial: trial(`t${r}b`, TrialKind.BASELINE, '', head, 'screen') } },
    {
      case: 'trialQueued',
      value: { trial: trial(`t${r}q`, TrialKind.CANDIDATE, `c${r}b`, head, 'confirm') },
    },
    { case: 'trialQueued', value: { trial: trial(`r${r}`, TrialKind.RERUN, `c${r}a`, head, 'scale') } },
    // Never finished: still pending at the end.
    { case: 'trialQueued', value: { trial: trial(`t${r}p`, TrialKind.BASELINE, '', head, 'confirm') } },
  ],
  trialStarted: (r) =>
    [`t${r}c`, `t${r}b`, `t${r}q`, `r${r}`].map((trialId) => ({
      case: 'trialStarted',
      value: { trialId, workerId: 'w1', gpuClass: 'cpu', startedAtMs: 1700000000500n },
    })),
  trialFinished: (r, head) => [
    ...[`t${r}c`, `t${r}b`].map((trialId, i): Body => ({
      case: 'trialFinished',
      value: {
        result: {
          trialId,
          status: TrialStatus.OK,
          metric: 0.9 + i / 100,
          metrics: { val_bpb: 0.9 + i / 100, training_seconds: 300 },
          gpuClass: 'cpu',
          logTail: 'tail',
          runMs: 300000n,
          curve: [{ fraction: 0.5, value: 1.5 }],
        },
      },
    })),
    {
      case: 'trialFinished',
      value: { result: { trialId: `t${r}q`, status: TrialStatus.NAN, metric: Number.NaN, gpuClass: 'cpu' } },
    },
    {
      case: 'trialFinished',
      value: {
        result: { trialId: `r${r}`, status: TrialStatus.OK, metric: 0.95, gpuClass: 'cpu', logTail: 'rr' },
      },
    },
    // A rerun's result whose TrialQueued never reached the ledger: adopted from the result.
    {
      case: 'trialFinished',
      value: {
        result: {
          trialId: `r${r}x`,
          status: TrialStatus.CRASH,
          reason: 'exit 1',
          trial: trial(`r${r}x`, TrialKind.RERUN, '', head, 'screen'),
        },
      },
    },
  ],
  verdict: (r) => [
    {
      case: 'verdict',
      value: { candidateId: `c${r}a`, kind: VerdictKind.PROMOTE, stage: 'screen', delta: 0.01 },
    },
    {
      case: 'verdict',
      value: { candidateId: `c${r}b`, kind: VerdictKind.REJECT, stage: 'screen', threshold: Infinity },
    },
  ],
  baselineMeasured: (r, head) => [
    { case: 'baselineMeasured', value: { commit: head, stage: 'screen', gpuClass: 'cpu', mean: 0.9, n: r } },
  ],
  merged: (r, head) => [
    {
      case: 'merged',
      value: {
        candidateId: `c${r}a`,
        commit: `m${r}`,
        previousHead: head,
        metricBefore: 1,
        metricAfter: -Infinity,
      },
    },
  ],
  proposerFailed: () => [
    {
      case: 'proposerFailed',
      value: { proposer: 'claude', reason: 'rate limited', usage: { costUsd: 0.5 } },
    },
  ],
  candidateRebased: (r, head) => [
    { case: 'candidateRebased', value: { candidateId: `c${r}c`, parentCommit: head, diff: 'rebased' } },
  ],
  reviewDecided: (r) => [
    { case: 'reviewDecided', value: { candidateId: `c${r}c`, approve: true, note: 'ok', reviewer: 'x' } },
  ],
  swarmPaused: () => [{ case: 'swarmPaused', value: { by: 'test', reason: 'pause' } }],
  swarmResumed: () => [{ case: 'swarmResumed', value: { by: 'test' } }],
  workersScaled: () => [{ case: 'workersScaled', value: { pool: 'cpu', from: 1, to: 4, by: 'scaler' } }],
  candidateFlagged: (r) => [{ case: 'candidateFlagged', value: { candidateId: `c${r}c`, rule: 'seed' } }],
  candidateAudited: (r, head) => [
    {
      case: 'candidateAudited',
      value: {
        candidateId: `c${r}c`,
        parent: head,
        usage: { costUsd: 0.1, inputTokens: 50n, outputTokens: 5n },
      },
    },
  ],
  trialStopped: (r) => [
    {
      case: 'trialStopped',
      value: {
        trialId: `t${r}q`,
        candidateId: `c${r}b`,
        stage: 'confirm',
        gpuClass: 'cpu',
        reason: 'clearly worse',
        evidence: { look: 0.5, candidateValue: 2, baselineMean: 1.5, n: 3 },
      },
    },
  ],
};

/** Two rounds of every kind, in the order a run would write them. */
function events(): Event[] {
  const out: Event[] = [];
  let head = 'h0';
  for (let r = 0; r < 2; r++)
    for (const kind of Object.keys(KINDS) as Kind[])
      for (const body of KINDS[kind](r, head)) {
        out.push(
          create(EventSchema, {
            seq: BigInt(out.length + 1),
            atMs: 1700000000000n + BigInt(out.length),
            body,
          }),
        );
        if (body.case === 'merged') head = body.value.commit ?? head;
      }
  return out;
}

function replayed(evs: readonly Event[]): LedgerState {
  const s = new LedgerState(STAGES);
  for (const ev of evs) s.apply(ev);
  return s;
}

describe('snapshots keep every kind of ledger event', () => {
  it('has events for every case of the Event oneof', () => {
    const oneof = EventSchema.oneofs.find((o) => o.localName === 'body')!;
    expect(Object.keys(KINDS).sort()).toEqual(oneof.fields.map((f) => f.localName).sort());
    const seen = new Set(events().map((e) => e.body.case));
    for (const f of oneof.fields) expect(seen.has(f.localName as Kind), f.localName).toBe(true);
  });

  it('the events reach every part of the state (an empty part would prove nothing)', () => {
    const s = replayed(events());
    expect(s.reruns.size).toBe(4);
    expect([...s.reruns.values()].filter((r) => r.result && r.started)).toHaveLength(2);
    expect(s.stops.size).toBe(2);
    expect(s.merges).toHaveLength(2);
    expect([...s.candidates.values()].some((v) => v.audit && v.flags.length)).toBe(true);
    expect([...s.candidates.values()].map((v) => v.state)).toContain(CandidateState.MERGED);
    expect(s.samples.size).toBeGreaterThan(0);
    expect(s.pending.size).toBeGreaterThan(0);
    expect(s.proposerFailures).toBe(2);
  });

  it('snapshot at any point plus the tail deep-equals a full replay, every field', () => {
    const evs = events();
    const full = replayed(evs);
    for (let cut = 1; cut <= evs.length; cut++) {
      const restored = deserializeState(serializeState(replayed(evs.slice(0, cut))), STAGES)!;
      for (const ev of evs.slice(cut)) restored.apply(ev);
      expect(restored, `cut at ${cut} (${evs[cut - 1]!.body.case})`).toEqual(full);
      // And the snapshot of the restored state is the full replay's, byte for byte.
      expect(Buffer.from(serializeState(restored)).equals(Buffer.from(serializeState(full)))).toBe(true);
    }
  });
});
