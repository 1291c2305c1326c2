/**
 * A discrete-event simulation of one swarm run. The coordinator's real parts
 * make every decision — ledger (in memory), target repo, trial factory,
 * intake with the knobs proposer, merger and scheduler, wired as
 * coordinator/coordinator.ts wires them — while time and the GPUs are
 * simulated: `publish` puts trials on in-memory stage queues, N workers take
 * one trial each (highest stage first), a trial lasts its stage's budget
 * plus a fixed overhead on the simulated clock, and its metric comes from
 * the landscape's own model (bench/sim/oracle.ts). Nothing sleeps.
 */
import { create } from '@bufbuild/protobuf';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CandidateState, VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import {
  CurvePointSchema,
  TrialResultSchema,
  TrialStatus,
  type Trial,
} from '../../gen/arswarm/v1/trial_pb.js';
import type { Config } from '../../common/config.js';
import { applyTexts, parseDiff } from '../../common/diff/index.js';
import { binCurve, type CurvePoint } from '../../common/curve.js';
import { earlyStopRuleOf } from '../../coordinator/early-stop/rule.js';
import { Ledger, memoryStore } from '../../coordinator/ledger/ledger.js';
import { Merger } from '../../coordinator/merger.js';
import { TargetRepo } from '../../coordinator/repo.js';
import { Scheduler } from '../../coordinator/scheduler.js';
import { TrialFactory } from '../../coordinator/trial-factory.js';
import { SimEarlyStop, type BaselineCurve, type SimStop } from './early-stop.js';
import { makeIntake } from './intake.js';
import type { LandscapeOracle } from './oracle.js';
import { speedUp, type FastRepoStats } from './fast-repo.js';
import { TrialQueue } from './trial-queue.js';

/** The GPU class every simulated worker reports. */
export const SIM_GPU_CLASS = 'cpu';

/** Epoch of the simulated clock (ledger event times), ms. */
export const SIM_EPOCH_MS = Date.UTC(2030, 0, 1);

export interface SimOptions {
  /** The swarm's config (stages, swarm, proposers); `target.repo` is ignored. */
  config: Config;
  /** The landscape target folder (train.py, prepare.py, truth.json). */
  landscapeDir: string;
  oracle: LandscapeOracle;
  /** Simulated workers. */
  workers: number;
  /** Simulated time budget, seconds. */
  budgetS: number;
  /** Seed of the knobs proposer's choices. */
  knobsSeed: number;
  /** Moves every trial's noise seed, so runs with different values see independent noise. */
  noiseSeed: number;
  /** Seconds added to every trial's budget (setup and report). @default 5 */
  overheadS?: number;
  /** Depth at which the head's true metric is tracked. */
  topDepth: number;
  /** In-memory diffs checked against git's at the start of the run. @default 10 */
  verifyDiffs?: number;
  /** Decisions of the coordinator, one line each. @default silent */
  log?: (msg: string) => void;
}

/** One merge, with the head's true metric before and after at the top depth. */
export interface SimMerge {
  atS: number;
  candidateId: string;
  title: string;
  trueBefore: number;
  trueAfter: number;
  /** Simulated worker-busy seconds spent up to the merge (running trials count up to it). */
  busyS: number;
}

/**
 * The simulation's copy of the target (with in-memory diffs checked against
 * git's) and its in-memory ledger, the swarm started on the repo's head at
 * the simulated clock `nowS`.
 */
export async function openSimTarget(
  o: Pick<SimOptions, 'landscapeDir' | 'verifyDiffs'>,
  config: Config,
  stateDir: string,
  nowS: () => number,
): Promise<{ repo: TargetRepo; repoStats: FastRepoStats; ledger: Ledger }> {
  const repo = await TargetRepo.open({
    sourceDir: o.landscapeDir,
    stateDir,
    branch: config.swarm.branch,
    base: config.target.base,
  });
  const repoStats = speedUp(repo, o.verifyDiffs ?? 10);
  try {
    const ledger = await Ledger.open(
      memoryStore(),
      config.stages.map((s) => s.name),
    );
    ledger.now = () => SIM_EPOCH_MS + Math.round(nowS() * 1000);
    await ledger.append({
      case: 'swarmStarted',
      value: { branch: config.swarm.branch, head: await repo.head(), configSha256: 'simulation' },
    });
    return { repo, repoStats, ledger };
  } catch (err) {
    await repo.close().catch(() => undefined);
    throw err;
  }
}

/** train.py at a commit (cached: a commit never changes), and with a candidate's diff applied. */
export function trainPyReader(repo: TargetRepo): {
  at(commit: string): Promise<string>;
  withDiff(commit: string, diff: string): Promise<string>;
} {
  const cache = new Map<string, string>();
  const at = async (commit: string): Promise<string> => {
    let text = cache.get(commit);
    if (text === undefined) {
      text = await repo.readFile(commit, 'train.py');
      if (text === undefined) throw new Error(`no train.py at ${commit}`);
      cache.set(commit, text);
    }
    return text;
  };
  return {
    at,
    async withDiff(commit, diff) {
      const base = await at(commit);
      if (!diff) return base;
      return applyTexts(parseDiff(diff), new Map([['train.py', base]])).get('train.py') ?? base;
    },
  };
}

/** A merge as a simulation records it, before its true metrics are looked up. */
export interface MergeLogEntry {
  atS: number;
  candidateId: string;
  previousHead: string;
  commit: string;
  busyS: number;
}

/** The starting head's and every merge's true metric at the top depth (`trueAt` reads a commit's). */
export async function scoreMerges(
  mergeLog: readonly MergeLogEntry[],
  ledger: Ledger,
  trueAt: (commit: string) => Promise<number>,
): Promise<{ startTrue: number; merges: SimMerge[] }> {
  const merges: SimMerge[] = [];
  for (const m of mergeLog)
    merges.push({
      atS: m.atS,
      candidateId: m.candidateId,
      title: ledger.state.candidates.get(m.candidateId)?.candidate.title ?? '',
      trueBefore: await trueAt(m.previousHead),
      trueAfter: await trueAt(m.commit),
      busyS: m.busyS,
    });
  return { startTrue: await trueAt(ledger.state.heads[0]!), merges };
}

export interface SimOutcome {
  /** True metric of the starting head at the top depth. */
  startTrue: number;
  merges: SimMerge[];
  /** Trials finished within the budget, by stage name (baselines included). */
  trialsByStage: Record<string, number>;
  baselineTrials: number;
  /** Simulated worker-busy seconds within the budget. */
  busyS: number;
  /** Simulated seconds the run lasted (the budget, or less when the proposer ran dry). */
  endS: number;
  /** The proposer ran out of ideas and nothing was left to run. */
  exhausted: boolean;
  /** Candidate trials stopped mid-slot (stages with `early_stop`), within the budget. */
  stoppedTrials: number;
  /** Slot seconds those stops left unrun (what the same trials would have cost more unstopped). */
  stopSavedS: number;
  candidates: number;
  /** Candidates by final state (merged, rejected, refused, ...) and refusals by reason code. */
  outcomes: Record<string, number>;
  /** Verdicts by `stage:kind`. */
  verdicts: Record<string, number>;
  /** Wall-clock seconds the simulation took. */
  wallS: number;
  repo: FastRepoStats;
}

interface Running {
  trial: Trial;
  startS: number;
  endS: number;
  worker: number;
  /** The run's learning curve, at stages that stop trials mid-slot. */
  curve?: CurvePoint[];
  /** Set when the stopping rule stopped the trial. */
  stop?: SimStop;
}

/** A curve as the result message carries it. */
function curveOf(points: readonly CurvePoint[]) {
  return binCurve(points).map((p) =>
    create(CurvePointSchema, { fraction: p.fraction, step: BigInt(p.step), value: p.value }),
  );
}

/** Counts of candidate outcomes and verdicts, for diagnosis. */
function tally(ledger: Ledger): Pick<SimOutcome, 'outcomes' | 'verdicts'> {
  const outcomes: Record<string, number> = {};
  const verdicts: Record<string, number> = {};
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  for (const v of ledger.state.candidates.values()) {
    bump(outcomes, CandidateState[v.state].toLowerCase());
    for (const x of v.verdicts) bump(verdicts, `${x.stage}:${VerdictKind[x.kind].toLowerCase()}`);
  }
  return { outcomes, verdicts };
}

/** Runs one simulated swarm to its time budget and reports what the head went through. */
export async function simulate(o: SimOptions): Promise<SimOutcome> {
  const wallStart = performance.now();
  const overheadS = o.overheadS ?? 5;
  const log = o.log ?? (() => undefined);
  const config = o.config;
  const stateDir = mkdtempSync(join(tmpdir(), 'arswarm-sim-'));
  let nowS = 0;
  const queue = new TrialQueue();
  const running: Running[] = [];
  const idle: number[] = Array.from({ length: o.workers }, (_, i) => o.workers - 1 - i);
  const mergeLog: MergeLogEntry[] = [];
  const trialsByStage: Record<string, number> = {};
  let baselineTrials = 0;
  let busyS = 0;
  let stoppedTrials = 0;
  let stopSavedS = 0;
  const earlyStop = new SimEarlyStop();
  const rules = new Map(config.stages.map((s) => [s.name, earlyStopRuleOf(s)]));
  const lowerIsBetter = config.target.progress.direction === 'minimize';

  const { repo, repoStats, ledger } = await openSimTarget(o, config, stateDir, () => nowS);
  let closeIntake = async () => undefined as void;
  try {
    ledger.onEvent((ev) => {
      if (ev.body.case === 'merged')
        mergeLog.push({
          atS: nowS,
          candidateId: ev.body.value.candidateId,
          previousHead: ev.body.value.previousHead,
          commit: ev.body.value.commit,
          busyS: busyS + running.reduce((a, r) => a + Math.max(0, nowS - r.startS), 0),
        });
    });
    const factory = new TrialFactory(config, repo);
    const intake = makeIntake({ config, repo, ledger, workers: o.workers, knobsSeed: o.knobsSeed, log });
    closeIntake = () => intake.close();
    const scheduler = new Scheduler({
      config,
      ledger,
      factory,
      merger: new Merger(repo, config),
      intake,
      publish: async (t) => queue.push(t),
      fleet: () => [{ gpuClass: SIM_GPU_CLASS, memoryMb: 0, workers: o.workers }],
      workerCount: () => o.workers,
      log,
    });

    const trainPy = trainPyReader(repo);
    const trainPyAt = trainPy.at;
    const trainPyOf = (t: Trial) => trainPy.withDiff(t.parentCommit, t.diff);

    const dispatch = () => {
      while (idle.length > 0 && queue.size > 0) {
        const trial = queue.take()!;
        const worker = idle.pop()!;
        running.push({ trial, startS: nowS, endS: Number.POSITIVE_INFINITY, worker });
      }
    };

    /** Baselines running now whose curves are known (the simulation runs every trial at its start). */
    const runningBaselines = (): BaselineCurve[] =>
      running
        .filter((x) => !x.trial.candidateId && x.curve && Number.isFinite(x.endS))
        .map((x) => ({
          parent: x.trial.parentCommit,
          stage: x.trial.stage?.name ?? '',
          endS: x.endS,
          curve: binCurve(x.curve!),
        }));

    /** Runs a trial on the landscape; fixes its end time and returns its result. */
    const execute = async (r: Running) => {
      const t = r.trial;
      const stage = t.stage!;
      const depth = Number(stage.env.DEPTH ?? '0') || 0;
      const rule = rules.get(stage.name);
      const obs = await o.oracle.evaluate(
        await trainPyOf(t),
        depth,
        t.seed + o.noiseSeed * 1_000_000,
        rule !== undefined,
      );
      const budget = stage.budgetSeconds;
      let runS = obs.status === 'ok' ? budget : obs.status === 'nan' ? 0.3 * budget : 0;
      if (obs.status === 'ok' && obs.curve) {
        r.curve = obs.curve;
        // The coordinator's rule on the curve as it would arrive, look by look.
        if (rule && t.candidateId) {
          r.stop = earlyStop.judge({
            rule,
            stage: stage.name,
            parent: t.parentCommit,
            startS: r.startS,
            budgetS: budget,
            curve: obs.curve,
            lowerIsBetter,
            running: runningBaselines(),
          });
          if (r.stop) {
            runS = r.stop.fraction * budget;
            log(`${t.candidateId} ${stage.name} trial ${r.stop.judgement.reason}`);
          }
        }
      }
      r.endS = r.startS + runS + overheadS;
      if (r.stop)
        return create(TrialResultSchema, {
          trialId: t.id,
          status: TrialStatus.STOPPED,
          reason: r.stop.judgement.reason,
          gpuClass: SIM_GPU_CLASS,
          workerId: `sim-${r.worker}`,
          trial: t,
          curve: curveOf(r.curve!.filter((p) => p.fraction <= r.stop!.fraction + 1e-9)),
        });
      return create(TrialResultSchema, {
        trialId: t.id,
        status:
          obs.status === 'ok' ? TrialStatus.OK : obs.status === 'nan' ? TrialStatus.NAN : TrialStatus.CRASH,
        metric: obs.status === 'ok' ? obs.metric : 0,
        metrics: obs.status === 'ok' ? { [config.target.metric.name]: obs.metric } : {},
        reason: obs.status === 'ok' ? '' : obs.reason,
        gpuClass: SIM_GPU_CLASS,
        workerId: `sim-${r.worker}`,
        trial: t,
        ...(r.curve && { curve: curveOf(r.curve) }),
      });
    };

    await scheduler.tick();
    const results = new Map<Running, Awaited<ReturnType<typeof execute>>>();
    let exhausted = false;
    for (;;) {
      dispatch();
      for (const r of running) if (!results.has(r)) results.set(r, await execute(r));
      if (running.length === 0) {
        exhausted = true;
        break;
      }
      let next = running[0]!;
      for (const r of running) if (r.endS < next.endS) next = r;
      if (next.endS > o.budgetS) break;
      nowS = next.endS;
      running.splice(running.indexOf(next), 1);
      idle.push(next.worker);
      const result = results.get(next)!;
      results.delete(next);
      busyS += next.endS - next.startS;
      const stageName = next.trial.stage?.name ?? '';
      trialsByStage[stageName] = (trialsByStage[stageName] ?? 0) + 1;
      if (!next.trial.candidateId) baselineTrials++;
      if (!next.trial.candidateId && next.curve && result.status === TrialStatus.OK)
        earlyStop.add({
          parent: next.trial.parentCommit,
          stage: stageName,
          endS: next.endS,
          curve: binCurve(next.curve),
        });
      if (next.stop) {
        stoppedTrials++;
        stopSavedS += (1 - next.stop.fraction) * (next.trial.stage?.budgetSeconds ?? 0);
      }
      result.startedAtMs = BigInt(SIM_EPOCH_MS + Math.round(next.startS * 1000));
      result.finishedAtMs = BigInt(SIM_EPOCH_MS + Math.round(nowS * 1000));
      // As the coordinator's results loop: the fact, the candidate's judgement, then a tick.
      if (!ledger.state.trials.get(result.trialId)?.result) {
        // As the coordinator records a stop: the fact with its evidence, then the worker's result.
        if (next.stop) {
          const e = next.stop.judgement.evidence;
          // The rule's evidence names its baseline count `n` (the ledger message) or `baselines`.
          const count = e as unknown as { n?: number; baselines?: number };
          await ledger.append({
            case: 'trialStopped',
            value: {
              trialId: result.trialId,
              candidateId: next.trial.candidateId,
              stage: stageName,
              gpuClass: SIM_GPU_CLASS,
              workerId: result.workerId,
              reason: next.stop.judgement.reason,
              evidence: {
                look: e.look,
                candidateValue: e.candidateValue,
                baselineMean: e.baselineMean,
                n: count.n ?? count.baselines ?? 0,
                sigma: e.sigma,
                df: e.df,
                critical: e.critical,
                threshold: e.threshold,
                worseBy: e.worseBy,
                alpha: e.alpha,
                looks: e.looks,
              },
            },
          });
        }
        await ledger.append({ case: 'trialFinished', value: { result } }, `f.${result.trialId}`);
        if (next.trial.candidateId) await scheduler.onCandidateResult(next.trial.candidateId);
      }
      await scheduler.tick();
    }
    // Work in progress at the end of the budget counts as busy up to the end.
    const endS = exhausted ? nowS : o.budgetS;
    for (const r of running) busyS += Math.max(0, Math.min(r.endS, endS) - r.startS);

    const top = (commit: string) => trainPyAt(commit).then((t) => o.oracle.trueMetric(t, o.topDepth));
    return {
      ...(await scoreMerges(mergeLog, ledger, top)),
      trialsByStage,
      baselineTrials,
      busyS,
      endS,
      exhausted,
      stoppedTrials,
      stopSavedS,
      candidates: ledger.state.candidates.size,
      ...tally(ledger),
      wallS: (performance.now() - wallStart) / 1000,
      repo: repoStats,
    };
  } finally {
    await closeIntake().catch(() => undefined);
    await repo.close().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }
}
