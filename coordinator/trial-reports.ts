/**
 * Workers' reports (TrialStarted, TrialResult from the results stream) turned
 * into ledger facts, a batch at a time: the facts of every report that has
 * arrived are appended with pipelined writes (one round trip for the batch
 * instead of one per report), then each candidate with a new result is judged.
 * The decisions are those of taking the reports one by one: a report that
 * repeats a fact already in the ledger, or earlier in the batch, adds nothing,
 * and a trial id is finished once whatever the redeliveries.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { decode } from '../common/codec.js';
import { ArswarmError, Code } from '../common/errors.js';
import { dedupeIds, type Names } from '../common/subjects.js';
import type { EventSchema } from '../gen/arswarm/v1/event_pb.js';
import { TrialResultSchema, TrialStartedSchema } from '../gen/arswarm/v1/trial_pb.js';
import type { Ledger } from './ledger/ledger.js';

/** What to do with a report message once its batch is recorded. */
export type ReportOutcome = 'ack' | 'nak' | 'term';

/** Most reports recorded in one batch. @default 256 */
export const MAX_REPORT_BATCH = 256;

export interface ReportDeps {
  ledger: Ledger;
  names: Names;
  /** Judges a candidate after one of its results was recorded. */
  onCandidateResult(candidateId: string): Promise<void>;
  log(msg: string): void;
}

type Body = MessageInitShape<typeof EventSchema>['body'];

/** Records a batch of reports (subject + payload); one outcome per report, in order. */
export async function recordReports(
  reports: readonly { subject: string; data: Uint8Array }[],
  d: ReportDeps,
): Promise<ReportOutcome[]> {
  const out: ReportOutcome[] = reports.map(() => 'ack');
  const state = d.ledger.state;
  const facts: { body: Body; dedupeId?: string; report: number }[] = [];
  // Facts earlier in this batch, not yet in the state.
  const finishing = new Set<string>();
  const startedBy = new Map<string, string>();
  reports.forEach((m, i) => {
    try {
      if (m.subject === d.names.resultStarted) {
        const st = decode(TrialStartedSchema, m.data);
        const tv = state.trials.get(st.trialId);
        const worker = startedBy.get(st.trialId) ?? tv?.started?.workerId;
        if (tv && !tv.result && !finishing.has(st.trialId) && worker !== st.workerId) {
          facts.push({ body: { case: 'trialStarted', value: st }, report: i });
          startedBy.set(st.trialId, st.workerId);
        }
      } else {
        const r = decode(TrialResultSchema, m.data);
        // Exactly-once accounting: a trial id is finished once, whatever the redeliveries.
        if (!state.trials.get(r.trialId)?.result && !finishing.has(r.trialId)) {
          // The ledger holds the trial already (its TrialQueued): a second copy would
          // double the bytes every restart decodes. Kept only for a trial to adopt.
          if (state.trials.has(r.trialId)) r.trial = undefined;
          facts.push({
            body: { case: 'trialFinished', value: { result: r } },
            dedupeId: dedupeIds.trialFinished(r.trialId),
            report: i,
          });
          finishing.add(r.trialId);
        }
      }
    } catch (err) {
      const e = ArswarmError.from(err);
      if (e.code === Code.InvalidArgument) {
        d.log(`dropping malformed result message: ${e.message}`);
        out[i] = 'term';
      } else {
        d.log(`result handling failed, will retry: ${e.message}`);
        out[i] = 'nak';
      }
    }
  });
  const appended = await d.ledger.appendMany(facts);
  // Candidates to judge, in the order their first new result arrived.
  const judge = new Map<string, number[]>();
  appended.forEach((r, k) => {
    const f = facts[k]!;
    if (!r.ok) {
      d.log(`result handling failed, will retry: ${ArswarmError.from(r.error).message}`);
      out[f.report] = 'nak';
      return;
    }
    if (f.body?.case !== 'trialFinished') return;
    const cid = state.trials.get(f.body.value.result!.trialId!)?.trial.candidateId;
    if (cid) judge.set(cid, [...(judge.get(cid) ?? []), f.report]);
  });
  for (const [cid, from] of judge) {
    try {
      await d.onCandidateResult(cid);
    } catch (err) {
      d.log(`result handling failed, will retry: ${ArswarmError.from(err).message}`);
      for (const i of from) out[i] = 'nak';
    }
  }
  return out;
}
