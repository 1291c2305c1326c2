/** ControlService: the API the CLI and the dashboard use. */
import { create } from '@bufbuild/protobuf';
import { CandidateState, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import type { ControlService } from '../gen/arswarm/v1/control_pb.js';
import { CandidateSummarySchema, type CandidateSummary } from '../gen/arswarm/v1/control_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import type { Config } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import type { ServiceImpl } from '../common/grpc.js';
import type { Ledger } from './ledger/ledger.js';
import type { CandidateView } from './ledger/state.js';
import type { WorkersView } from './workers-view.js';

/** @default 50; at most 500 */
export const DEFAULT_PAGE_SIZE = 50;

export function summary(v: CandidateView, stageNames: readonly string[]): CandidateSummary {
  return create(CandidateSummarySchema, {
    candidate: v.candidate,
    state: v.state,
    stage: stageNames[v.stageIndex] ?? '',
    verdicts: v.verdicts,
    mergedCommit: v.mergedCommit,
  });
}

export function controlService(
  config: Config,
  ledger: Ledger,
  workers: WorkersView,
): ServiceImpl<(typeof ControlService)['method']> {
  const stageNames = config.stages.map((s) => s.name);
  const lowerIsBetter = config.target.metric.direction === 'minimize';
  return {
    async getStatus() {
      const s = ledger.state;
      const stages = stageNames.map((name) => {
        let queued = 0,
          running = 0,
          finished = 0,
          best = NaN;
        const baselineMean: Record<string, number> = {};
        for (const tv of s.trials.values()) {
          if (tv.trial.stage?.name !== name) continue;
          if (tv.result) {
            finished++;
            const m = tv.result.metric;
            if (
              tv.result.status === TrialStatus.OK &&
              (Number.isNaN(best) || (lowerIsBetter ? m < best : m > best))
            )
              best = m;
          } else if (tv.started) running++;
          else queued++;
        }
        for (const cls of workers.classes()) {
          const b = s.baseline(s.head, name, cls);
          if (b.length) baselineMean[cls] = b.reduce((a, x) => a + x.metric, 0) / b.length;
        }
        return { name, queued, running, finished, bestMetric: best, baselineMean };
      });
      const lastMerge = s.merges.at(-1);
      return {
        branch: s.branch,
        head: s.head,
        headMetric: lastMerge ? lastMerge.metricAfter : NaN,
        trialsFinished: BigInt(s.finished),
        trialsQueued: BigInt(s.pending.size),
        candidates: BigInt(s.candidates.size),
        merges: BigInt(s.merges.length),
        stages,
        workers: workers.live(),
        costUsd: s.costUsd,
        metric: config.target.metric.name,
        lowerIsBetter,
        ledgerEvents: BigInt(s.events),
      };
    },

    async listCandidates(req) {
      const size = Math.min(req.pageSize || DEFAULT_PAGE_SIZE, 500);
      const start = req.pageToken ? Number(req.pageToken) : 0;
      if (!Number.isInteger(start) || start < 0)
        throw new ArswarmError(Code.InvalidArgument, `bad page_token ${JSON.stringify(req.pageToken)}`, {
          field: 'page_token',
        });
      if (req.stage && !stageNames.includes(req.stage))
        throw new ArswarmError(
          Code.InvalidArgument,
          `unknown stage "${req.stage}" (stages: ${stageNames.join(', ')})`,
          { field: 'stage' },
        );
      const states = new Set(req.states);
      const all = [...ledger.state.candidates.values()].filter(
        (v) =>
          (states.size === 0 || states.has(v.state)) &&
          (!req.proposer || v.candidate.proposer === req.proposer) &&
          (!req.stage || stageNames[v.stageIndex] === req.stage),
      );
      const page = all.slice(start, start + size);
      return {
        candidates: page.map((v) => summary(v, stageNames)),
        nextPageToken: start + size < all.length ? String(start + size) : '',
      };
    },

    async getCandidate(req) {
      const v = ledger.state.candidates.get(req.id);
      if (!v)
        throw new ArswarmError(Code.NotFound, `no candidate "${req.id}"`, {
          candidateId: req.id,
          field: 'id',
        });
      const trials = ledger.state.candidateTrials(req.id);
      return {
        summary: summary(v, stageNames),
        results: trials.filter((t) => t.result).map((t) => t.result!),
        pending: trials.filter((t) => !t.result).map((t) => t.trial),
      };
    },

    async *watchEvents(req, ctx) {
      const queue: Event[] = [];
      let wake: (() => void) | undefined;
      const off = ledger.onEvent((ev) => {
        queue.push(ev);
        wake?.();
      });
      try {
        let last = 0n;
        if (req.fromSeq > 0n)
          for await (const ev of ledger.history(req.fromSeq)) {
            last = ev.seq;
            yield ev;
          }
        while (!ctx.signal.aborted) {
          while (queue.length) {
            const ev = queue.shift()!;
            if (ev.seq > last) yield ev;
          }
          await new Promise<void>((r) => {
            wake = r;
            ctx.signal.addEventListener('abort', () => r(), { once: true });
          });
        }
      } finally {
        off();
      }
    },
  };
}

/** Counts candidates per state (for progress lines). */
export function countStates(ledger: Ledger): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of ledger.state.candidates.values()) {
    const k = CandidateState[v.state].toLowerCase();
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Verdict kind as a word. */
export function verdictWord(k: VerdictKind): string {
  return VerdictKind[k].toLowerCase();
}
