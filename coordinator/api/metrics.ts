/**
 * Prometheus metrics in the text exposition format (0.0.4), computed from the
 * ledger state and the live heartbeats at scrape time: queue depth per stage,
 * trials by status, mid-slot stops and the GPU seconds they saved, workers
 * and their idle seconds, best metric per stage, proposer tokens and cost.
 */
import { CandidateState, type Candidate } from '../../gen/arswarm/v1/candidate_pb.js';
import { TrialStatus, WorkerState, type WorkerHeartbeat } from '../../gen/arswarm/v1/trial_pb.js';
import type { Config } from '../../common/config.js';
import type { LedgerState } from '../ledger/state.js';
import type { StageWaiting } from '../waiting.js';
import { stopSavings } from '../early-stop/savings.js';
import { resultsPerMinute } from './views.js';

type Labels = Record<string, string>;

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const fmt = (n: number) =>
  Number.isNaN(n) ? 'NaN' : n === Infinity ? '+Inf' : n === -Infinity ? '-Inf' : String(n);

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter', help: string, samples: [Labels, number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${escape(v)}"`)
        .join(',');
      this.lines.push(`${name}${l ? `{${l}}` : ''} ${fmt(value)}`);
    }
  }

  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

const word = (s: string) => s.toLowerCase();

export function metricsText(
  config: Config,
  s: LedgerState,
  workers: WorkerHeartbeat[],
  now = Date.now(),
  extra: {
    /** Work no live worker can run, per stage. */
    waiting?: ReadonlyMap<string, StageWaiting>;
    /** Why no proposer offers anything more, if so. */
    proposersExhausted?: string;
  } = {},
): string {
  const lowerIsBetter = config.target.metric.direction === 'minimize';
  const queued = new Map<string, number>(s.stageNames.map((n) => [n, 0]));
  const running = new Map<string, number>(s.stageNames.map((n) => [n, 0]));
  const best = new Map<string, number>();
  const byStatus = new Map<string, number>();
  for (const tv of s.trials.values()) {
    const stage = tv.trial.stage?.name ?? '';
    if (!tv.result) {
      const m = tv.started ? running : queued;
      m.set(stage, (m.get(stage) ?? 0) + 1);
      continue;
    }
    const key = `${stage}|${word(TrialStatus[tv.result.status])}`;
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
    if (tv.result.status === TrialStatus.OK) {
      const b = best.get(stage);
      const m = tv.result.metric;
      if (b === undefined || (lowerIsBetter ? m < b : m > b)) best.set(stage, m);
    }
  }
  const states = new Map<string, number>(
    Object.keys(CandidateState)
      .filter((k) => Number.isNaN(Number(k)) && k !== 'UNSPECIFIED')
      .map((k) => [word(k), 0]),
  );
  const usage = new Map<string, { input: number; output: number; cost: number }>();
  for (const v of s.candidates.values()) {
    const st = word(CandidateState[v.state]);
    states.set(st, (states.get(st) ?? 0) + 1);
    const p = proposerOf(v.candidate);
    const u = usage.get(p) ?? { input: 0, output: 0, cost: 0 };
    u.input += Number(v.candidate.usage?.inputTokens ?? 0n);
    u.output += Number(v.candidate.usage?.outputTokens ?? 0n);
    u.cost += v.candidate.usage?.costUsd ?? 0;
    usage.set(p, u);
  }
  const e = new Exposition();
  const perStage = (m: Map<string, number>) => [...m].map(([stage, n]) => [{ stage }, n] as [Labels, number]);
  e.family('arswarm_queue_depth', 'gauge', 'Trials queued and not started, per stage.', perStage(queued));
  e.family('arswarm_trials_running', 'gauge', 'Trials a worker has started, per stage.', perStage(running));
  e.family(
    'arswarm_trials_total',
    'counter',
    'Finished trials by stage and status.',
    [...byStatus].map(([k, n]) => {
      const [stage, status] = k.split('|') as [string, string];
      return [{ stage, status }, n];
    }),
  );
  e.family(
    'arswarm_best_metric',
    'gauge',
    `Best ${config.target.metric.name} of an OK trial, per stage.`,
    perStage(best),
  );
  const lastMerge = s.merges.at(-1);
  e.family(
    'arswarm_head_metric',
    'gauge',
    'Top-stage metric of the shared branch head after the last merge.',
    [[{}, lastMerge ? lastMerge.metricAfter : NaN]],
  );
  const stops = stopSavings(s, (name) => config.stages.find((x) => x.name === name)?.budget_seconds);
  const perStop = (f: (x: { stopped: number; savedGpuSeconds: number }) => number) =>
    s.stageNames.map((stage) => {
      const x = stops.get(stage) ?? { stopped: 0, savedGpuSeconds: 0 };
      return [{ stage }, f(x)] as [Labels, number];
    });
  e.family(
    'arswarm_trials_stopped_total',
    'counter',
    'Candidate trials stopped mid-slot (learning curve clearly worse than the baseline), per stage.',
    perStop((x) => x.stopped),
  );
  e.family(
    'arswarm_stop_saved_gpu_seconds_total',
    'counter',
    'GPU seconds mid-slot stops saved, per stage (a full run there minus the stopped run).',
    perStop((x) => x.savedGpuSeconds),
  );
  e.family('arswarm_merges_total', 'counter', 'Merges into the shared branch.', [[{}, s.merges.length]]);
  e.family(
    'arswarm_candidates',
    'gauge',
    'Candidates by state.',
    [...states].map(([state, n]) => [{ state }, n]),
  );
  e.family(
    'arswarm_workers',
    'gauge',
    'Live workers by GPU class and state.',
    countBy(workers, (w) => `${w.gpuClass}|${word(WorkerState[w.state])}`).map(([k, n]) => {
      const [gpu_class, state] = k.split('|') as [string, string];
      return [{ gpu_class, state }, n];
    }),
  );
  e.family(
    'arswarm_worker_idle_seconds',
    'gauge',
    'Seconds each live worker has waited for work since it started.',
    workers.map((w) => [{ worker: w.workerId, gpu_class: w.gpuClass }, w.idleSeconds]),
  );
  e.family(
    'arswarm_proposer_tokens_total',
    'counter',
    'LLM tokens used by proposers.',
    [...usage].flatMap(([proposer, u]) => [
      [{ proposer, direction: 'input' }, u.input] as [Labels, number],
      [{ proposer, direction: 'output' }, u.output] as [Labels, number],
    ]),
  );
  e.family(
    'arswarm_proposer_cost_usd_total',
    'counter',
    'LLM cost of proposals in US dollars.',
    [...usage].map(([proposer, u]) => [{ proposer }, u.cost]),
  );
  e.family('arswarm_results_per_minute', 'gauge', 'Trial results per minute over the last 5 minutes.', [
    [{}, resultsPerMinute(s, now)],
  ]);
  e.family(
    'arswarm_trials_waiting',
    'gauge',
    'Queued trials no live worker can run (a class that left, a memory floor above every live GPU), per stage.',
    [...(extra.waiting ?? [])].map(([stage, w]) => [{ stage, waiting_for: w.waitingFor }, w.trials]),
  );
  e.family(
    'arswarm_candidates_waiting',
    'gauge',
    'Active candidates at a stage no live worker may run, per stage.',
    [...(extra.waiting ?? [])].map(([stage, w]) => [{ stage, waiting_for: w.waitingFor }, w.candidates]),
  );
  e.family('arswarm_proposers_exhausted', 'gauge', '1 while no proposer offers anything more at the head.', [
    [{}, extra.proposersExhausted ? 1 : 0],
  ]);
  e.family('arswarm_paused', 'gauge', '1 while no new candidates start.', [[{}, s.paused ? 1 : 0]]);
  e.family('arswarm_ledger_events_total', 'counter', 'Events in the ledger.', [[{}, s.events]]);
  return e.toString();
}

/** Human submissions are one proposer, whoever submitted them. */
function proposerOf(c: Candidate): string {
  return c.proposer.startsWith('human:') ? 'human' : c.proposer;
}

function countBy<T>(xs: readonly T[], key: (x: T) => string): [string, number][] {
  const m = new Map<string, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return [...m];
}
