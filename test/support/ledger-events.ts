/**
 * A seeded ledger with every kind of fact LedgerState keeps (candidates,
 * trials of every status, verdicts, merges, rebases, reviews, flags), NaN
 * and infinite numbers and bigints: the input of the snapshot tests.
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { EventSchema, type Event } from '../../gen/arswarm/v1/event_pb.js';
import { TrialKind, TrialSchema, TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { seededRandom } from '../../common/random.js';

type Body = MessageInitShape<typeof EventSchema>['body'];
/** The ladder the events use. */
export const STAGES = ['screen', 'confirm', 'scale'];

/** A seeded ledger with every kind of fact the state keeps, NaN and infinite numbers, bigints. */
export function ledgerEvents(n: number, seed: number): Event[] {
  const random = seededRandom(seed);
  const out: Event[] = [];
  const push = (body: Body) =>
    out.push(create(EventSchema, { seq: BigInt(out.length + 1), atMs: 1700000000000n, body }));
  let head = 'h0';
  push({ case: 'swarmStarted', value: { branch: 'arswarm/main', head } });
  const candidates: string[] = [];
  const trials: { id: string; cid: string; stage: string }[] = [];
  for (let i = 0; out.length < n; i++) {
    const r = random();
    const cid = candidates[Math.floor(random() * candidates.length)];
    const stage = STAGES[i % 3]!;
    if (r < 0.08 || !cid) {
      const id = `c${i}`;
      candidates.push(id);
      const diff = `--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-X = ${i}\n+X = ${i + 1}\n`;
      push({
        case: random() < 0.9 ? 'candidateProposed' : 'candidateRefused',
        value: {
          candidate: {
            id,
            parentCommit: head,
            diff,
            title: `t${i}`,
            usage: { costUsd: random(), inputTokens: BigInt(i) },
          },
          reason: 'dup',
        },
      } as Body);
    } else if (r < 0.4) {
      const baseline = random() < 0.3;
      const id = `t${i}`;
      trials.push({ id, cid: baseline ? '' : cid, stage });
      const trial = create(TrialSchema, {
        id,
        kind: baseline ? TrialKind.BASELINE : TrialKind.CANDIDATE,
        candidateId: baseline ? '' : cid,
        parentCommit: head,
        diff: baseline
          ? ''
          : random() < 0.8
            ? `--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-X = ${cid.slice(1)}\n+X = ${Number(cid.slice(1)) + 1}\n`
            : 'other diff',
        seed: 1 + (i % 3),
        replicate: i % 3,
        attempt: 1,
        gpuClass: random() < 0.5 ? 'any' : 'cpu',
        queuedAtMs: BigInt(i),
        stage: {
          name: stage,
          index: STAGES.indexOf(stage),
          env: { DEPTH: String(4 * (1 + (i % 2))) },
          budgetSeconds: 300,
        },
        target: { command: 'python3 train.py', lockedSha256: { 'prepare.py': 'ff' }, maxPatchBytes: 65536n },
      });
      push({ case: 'trialQueued', value: { trial } });
    } else if (r < 0.55 && trials.length) {
      const t = trials[Math.floor(random() * trials.length)]!;
      push({ case: 'trialStarted', value: { trialId: t.id, workerId: 'w1', startedAtMs: BigInt(i) } });
    } else if (r < 0.85 && trials.length) {
      const t = trials[Math.floor(random() * trials.length)]!;
      const status = random() < 0.85 ? TrialStatus.OK : random() < 0.5 ? TrialStatus.NAN : TrialStatus.INFRA;
      push({
        case: 'trialFinished',
        value: {
          result: {
            trialId: t.id,
            status,
            metric: status === TrialStatus.NAN ? Number.NaN : 0.9 + random() / 10,
            gpuClass: 'cpu',
            logTail: 'tail',
            runMs: BigInt(i),
          },
        },
      });
    } else if (r < 0.93) {
      const kind = [VerdictKind.PROMOTE, VerdictKind.REJECT, VerdictKind.INCONCLUSIVE][i % 3]!;
      push({
        case: 'verdict',
        value: {
          candidateId: cid,
          kind,
          stage,
          delta: random(),
          threshold: random() < 0.2 ? Infinity : 0.01,
          df: 4,
        },
      });
    } else if (r < 0.95) {
      const commit = `h${i}`;
      push({
        case: 'merged',
        value: { candidateId: cid, commit, previousHead: head, metricAfter: -Infinity },
      });
      head = commit;
    } else if (r < 0.96)
      push({ case: 'candidateRebased', value: { candidateId: cid, parentCommit: head, diff: 'rebased' } });
    else if (r < 0.97) push({ case: 'reviewDecided', value: { candidateId: cid, approve: random() < 0.5 } });
    else if (r < 0.98) push({ case: random() < 0.5 ? 'swarmPaused' : 'swarmResumed', value: {} } as Body);
    else if (r < 0.99) push({ case: 'candidateFlagged', value: { candidateId: cid, rule: 'seed' } });
    else push({ case: 'proposerFailed', value: { proposer: 'knobs', usage: { costUsd: 0.5 } } });
  }
  return out;
}
