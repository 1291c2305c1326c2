/**
 * ControlService: the API the CLI and the dashboard use, over gRPC and the
 * HTTP gateway. Every method runs behind the token check (`authorized`);
 * state changes go through the coordinator's serialized entry points, and
 * every change records who made it.
 */
import { ControlService } from '../../gen/arswarm/v1/control_pb.js';
import { CandidateState } from '../../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../../gen/arswarm/v1/event_pb.js';
import { TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import type { Config } from '../../common/config.js';
import { ArswarmError, Code } from '../../common/errors.js';
import type { CallContext, ServiceImpl } from '../../common/grpc.js';
import type { Submission } from '../intake/index.js';
import type { Ledger } from '../ledger/ledger.js';
import type { CandidateView } from '../ledger/state.js';
import { originalOf } from '../rerun.js';
import { resultsTsv } from '../results-tsv.js';
import type { WorkerScaler } from '../scaler.js';
import type { StageWaiting } from '../waiting.js';
import type { WorkersView } from '../workers-view.js';
import { authorizationOf, bindIdentity, identityOf, METHOD_ROLES, type Authenticator } from './auth.js';
import { progress } from './progress.js';
import { reportView } from './report-view.js';
import { evidence, matchesProposer, status, summary } from './views.js';

/** @default 50; at most MAX_PAGE_SIZE */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
/** Longest review note or pause reason, in characters. */
export const MAX_NOTE_CHARS = 4000;

export type ControlImpl = ServiceImpl<(typeof ControlService)['method']>;

/** What the service needs from the coordinator (structurally, the Coordinator itself). */
export interface ControlHost {
  readonly ledger: Ledger;
  readonly workers: WorkersView;
  readonly scaler?: WorkerScaler;
  submit(s: Submission): Promise<string>;
  decide(candidateId: string, approve: boolean, note: string, reviewer: string): Promise<void>;
  setPaused(paused: boolean, by: string, reason?: string): Promise<void>;
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Work no live worker can run, per stage. */
  waitingWork?(): ReadonlyMap<string, StageWaiting>;
  /** Stages no live worker can run. */
  stageWarnings?(): string[];
  /** Candidates whose scheduling step keeps failing (retried every tick). */
  schedulingErrors?(): string[];
  /** Why no proposer offers anything more at the head. */
  proposersExhausted?(): string | undefined;
  /** Why a bounded run is over (empty while it goes on). */
  readonly settledReason?: string;
  /** Queues an exact copy of a finished trial; resolves to the rerun's id. */
  rerun?(trialId: string, by: string): Promise<string>;
}

function text(value: string, field: string, max = MAX_NOTE_CHARS): string {
  if (value.length > max)
    throw new ArswarmError(Code.InvalidArgument, `${field} is longer than ${max} characters`, { field });
  return value.trim();
}

export function controlService(config: Config, host: ControlHost): ControlImpl {
  const stageNames = config.stages.map((s) => s.name);
  const lowerIsBetter = config.target.metric.direction === 'minimize';
  const state = () => host.ledger.state;
  const candidate = (id: string): CandidateView => {
    if (!id) throw new ArswarmError(Code.InvalidArgument, 'id is required', { field: 'id' });
    const v = state().candidates.get(id);
    if (!v) throw new ArswarmError(Code.NotFound, `no candidate "${id}"`, { candidateId: id, field: 'id' });
    return v;
  };
  const decide = async (id: string, note: string, approve: boolean, reviewer: string) => {
    candidate(id);
    await host.decide(id, approve, text(note, 'note'), reviewer);
    const v = candidate(id);
    return { id, state: v.state, mergedCommit: v.mergedCommit, reviewer };
  };

  return {
    async getStatus() {
      const base = status({
        config,
        state: state(),
        workers: host.workers.live(),
        pools: (await host.scaler?.current().catch(() => [])) ?? [],
        waiting: host.waitingWork?.(),
        warnings: [...(host.stageWarnings?.() ?? []), ...(host.schedulingErrors?.() ?? [])],
        proposersExhausted: host.proposersExhausted?.(),
      });
      return { ...base, settled: host.settledReason ?? '' };
    },

    async listCandidates(req) {
      const size = Math.min(req.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
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
      const all = [...state().candidates.values()].filter(
        (v) =>
          (states.size === 0 || states.has(v.state)) &&
          matchesProposer(v.candidate.proposer, req.proposer) &&
          (!req.stage || stageNames[v.stageIndex] === req.stage),
      );
      return {
        candidates: all.slice(start, start + size).map((v) => summary(v, stageNames)),
        nextPageToken: start + size < all.length ? String(start + size) : '',
      };
    },

    async getCandidate(req) {
      const v = candidate(req.id);
      const trials = state().candidateTrials(req.id);
      return {
        summary: summary(v, stageNames),
        results: (await Promise.all(trials.map((t) => host.ledger.result(t.trial.id)))).filter(
          (r) => r !== undefined,
        ),
        pending: trials.filter((t) => !t.result).map((t) => t.trial),
        evidence: evidence(state(), v),
        refusedReason: v.refusedReason,
        diff: v.diff,
        parentCommit: v.parent,
        approved: v.approved,
      };
    },

    async *watchEvents(req, ctx) {
      const queue: Event[] = [];
      let wake: (() => void) | undefined;
      const off = host.ledger.onEvent((ev) => {
        queue.push(ev);
        wake?.();
      });
      try {
        let last = 0n;
        if (req.fromSeq > 0n)
          for await (const ev of host.ledger.history(req.fromSeq)) {
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

    async submitCandidate(req, ctx) {
      const who = identityOf(ctx);
      if (!req.diff.trim())
        throw new ArswarmError(Code.InvalidArgument, 'the diff is empty', { field: 'diff', reason: 'empty' });
      const id = await host.submit({
        diff: req.diff,
        title: text(req.title, 'title', 200),
        hypothesis: text(req.hypothesis, 'hypothesis'),
        proposer: `human:${who.name}`,
      });
      return { id, parentCommit: candidate(id).parent };
    },

    async listReview() {
      const s = state();
      const items = [...s.candidates.values()]
        .filter((v) => v.state === CandidateState.REVIEW)
        .map((v) => ({
          summary: summary(v, stageNames),
          evidence: evidence(s, v),
          costUsd: v.candidate.usage?.costUsd ?? 0,
          diff: v.diff,
          onHead: v.parent === s.head,
          approved: v.approved,
        }));
      return { items, mergePolicy: config.swarm.merge_policy };
    },

    async approve(req, ctx) {
      return decide(req.id, req.note, true, identityOf(ctx).name);
    },

    async reject(req, ctx) {
      return decide(req.id, req.note, false, identityOf(ctx).name);
    },

    async setWorkers(req, ctx) {
      const who = identityOf(ctx);
      const scaler = host.scaler;
      if (!scaler)
        throw new ArswarmError(Code.FailedPrecondition, 'this coordinator has no worker scaler', {
          reason: 'no_scaler',
          hint: 'scale from `arswarm up`, or deploy with Kubernetes scaling enabled',
        });
      const r = await scaler.scale(req.replicas, req.pool || undefined);
      await host.exclusive(() =>
        host.ledger.append({
          case: 'workersScaled',
          value: { pool: r.pool, from: r.previous, to: r.desired, by: who.name },
        }),
      );
      return { pool: r.pool, previous: r.previous, desired: r.desired };
    },

    async pause(req, ctx) {
      await host.setPaused(true, identityOf(ctx).name, text(req.reason, 'reason'));
      return { paused: state().paused };
    },

    async resume(_req, ctx) {
      await host.setPaused(false, identityOf(ctx).name);
      return { paused: state().paused };
    },

    async rerunTrial(req, ctx) {
      if (!host.rerun)
        throw new ArswarmError(Code.Unimplemented, 'this coordinator cannot rerun trials', {
          reason: 'no_rerun',
        });
      return { rerunTrialId: await host.rerun(req.trialId, identityOf(ctx).name) };
    },

    async getRerun(req) {
      const rv = state().reruns.get(req.rerunTrialId);
      if (!rv)
        throw new ArswarmError(Code.NotFound, `no rerun "${req.rerunTrialId}"`, {
          trialId: req.rerunTrialId,
          field: 'rerun_trial_id',
        });
      const original = await host.ledger.result(originalOf(rv.trial.id));
      return {
        rerun: rv.trial,
        original: original ? { ...original, logTail: '' } : undefined,
        result: rv.result ? { ...rv.result, logTail: '' } : undefined,
        workerId: rv.result?.workerId ?? rv.started?.workerId ?? '',
      };
    },

    async exportResults(req) {
      const tsv = resultsTsv(state(), { extra: req.extra });
      return { tsv, rows: Math.max(tsv.split('\n').filter(Boolean).length - 1, 0) };
    },

    async getTrialLog(req) {
      if (!req.trialId)
        throw new ArswarmError(Code.InvalidArgument, 'trial_id is required', { field: 'trial_id' });
      const tv = state().trials.get(req.trialId);
      if (!tv)
        throw new ArswarmError(Code.NotFound, `no trial "${req.trialId}"`, {
          trialId: req.trialId,
          field: 'trial_id',
        });
      const r = await host.ledger.result(req.trialId);
      return {
        trialId: req.trialId,
        finished: !!r,
        status: r?.status ?? TrialStatus.UNSPECIFIED,
        logTail: r?.logTail ?? '',
        reason: r?.reason ?? '',
        workerId: r?.workerId ?? tv.started?.workerId ?? '',
        candidateId: tv.trial.candidateId,
        stage: tv.trial.stage?.name ?? '',
      };
    },

    async getReport() {
      return reportView(state(), lowerIsBetter);
    },

    async getProgress() {
      return progress(state(), lowerIsBetter, config.target.metric.name);
    },

    async whoAmI(_req, ctx) {
      const who = identityOf(ctx);
      return { name: who.name, role: who.role };
    },
  };
}

type AnyHandler = (req: unknown, ctx: CallContext) => unknown;

/** Puts the token check in front of every method: the caller is known before a handler runs. */
export function authorized(impl: ControlImpl, auth: Authenticator): ControlImpl {
  const out: Record<string, AnyHandler> = {};
  for (const m of ControlService.methods) {
    const name = m.localName as keyof typeof METHOD_ROLES;
    const fn = (impl[name] as AnyHandler).bind(impl);
    const check = (ctx: CallContext) =>
      bindIdentity(ctx, auth.authorize(authorizationOf(ctx.metadata), name));
    out[name] =
      m.methodKind === 'server_streaming'
        ? async function* (req: unknown, ctx: CallContext) {
            check(ctx);
            yield* fn(req, ctx) as AsyncIterable<unknown>;
          }
        : async (req: unknown, ctx: CallContext) => {
            check(ctx);
            return fn(req, ctx);
          };
  }
  return out as unknown as ControlImpl;
}
