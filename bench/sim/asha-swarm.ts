/**
 * The ASHA policy as a discrete-event simulation beside bench/sim/swarm.ts:
 * the same knobs proposer through the real intake and ledger, the same
 * target repo and git merges, the same rungs, prices, seeds and landscape
 * model; only the decisions are ASHA's (bench/sim/asha.ts) instead of the
 * coordinator's ladder.
 *
 * Rungs are the ladder's distinct (DEPTH, budget) levels. The head is run
 * once at the top rung; a configuration that finishes the top rung merges
 * when its observed value beats the head's top-rung value, which it then
 * becomes (no noise gate, no re-measurement, as in hyperparameter search:
 * the incumbent is the best value seen). A configuration proposed against an
 * older head is carried onto the current one by git's 3-way rebase, as the
 * coordinator carries a stale winner (one that conflicts is not merged).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { mergeMessage } from '../../coordinator/merger.js';
import { seedOf } from '../../coordinator/trial-factory.js';
import { AshaLadder, rungsOf, type AshaRung } from './asha.js';
import { makeIntake } from './intake.js';
import {
  openSimTarget,
  scoreMerges,
  trainPyReader,
  type MergeLogEntry,
  type SimOptions,
  type SimOutcome,
} from './swarm.js';

/** Proposals asked for per free worker before it waits for the next event (a refusal returns none). */
const PROPOSE_TRIES = 4;

export interface AshaOptions extends SimOptions {
  /** Reduction factor. @default 3 */
  eta?: number;
}

interface Job {
  /** Candidate id, or '' for the head's own top-rung run. */
  id: string;
  rung: number;
  startS: number;
  endS: number;
  value: number;
}

/** Runs ASHA to its time budget and reports what the head went through, as simulate() does. */
export async function simulateAsha(o: AshaOptions): Promise<SimOutcome> {
  const wallStart = performance.now();
  const overheadS = o.overheadS ?? 5;
  const log = o.log ?? (() => undefined);
  const config = o.config;
  const rungs = rungsOf(config);
  const top = rungs.length - 1;
  const lowerIsBetter = config.target.metric.direction === 'minimize';
  const ladder = new AshaLadder(rungs.length, o.eta ?? 3, lowerIsBetter);
  const stateDir = mkdtempSync(join(tmpdir(), 'arswarm-asha-'));
  let nowS = 0;
  let busyS = 0;
  const running: Job[] = [];
  const trialsByStage: Record<string, number> = {};
  let baselineTrials = 0;
  const mergeLog: MergeLogEntry[] = [];
  const { repo, repoStats, ledger } = await openSimTarget(o, config, stateDir, () => nowS);
  let closeIntake = async () => undefined as void;
  try {
    const intake = makeIntake({ config, repo, ledger, workers: o.workers, knobsSeed: o.knobsSeed, log });
    closeIntake = () => intake.close();

    const trainPy = trainPyReader(repo);
    const textAt = trainPy.at;
    // A configuration is its train.py as proposed: the parent's file plus the candidate's diff.
    const configText = async (id: string): Promise<string> => {
      if (!id) return textAt(ledger.state.head);
      const v = ledger.state.candidates.get(id)!;
      return trainPy.withDiff(v.parent, v.diff);
    };

    let headValue: number | undefined;
    let headMeasured = false;
    const start = async (id: string, rung: AshaRung, k: number) => {
      const obs = await o.oracle.evaluate(
        await configText(id),
        rung.depth,
        seedOf(rung.stageIndex, 0) + o.noiseSeed * 1_000_000,
      );
      const runS = obs.status === 'ok' ? rung.budgetS : obs.status === 'nan' ? 0.3 * rung.budgetS : 0;
      running.push({
        id,
        rung: k,
        startS: nowS,
        endS: nowS + runS + overheadS,
        value: obs.status === 'ok' ? obs.metric : NaN,
      });
    };
    /** Gives a free worker its next job; false when there is none for now. */
    const assign = async (): Promise<boolean> => {
      if (!headMeasured) {
        headMeasured = true;
        await start('', rungs[top]!, top);
        return true;
      }
      const p = ladder.promotion();
      if (p) {
        await start(p.id, rungs[p.rung]!, p.rung);
        return true;
      }
      for (let i = 0; i < PROPOSE_TRIES; i++) {
        const id = await intake.proposeOne();
        if (id) {
          await start(id, rungs[0]!, 0);
          return true;
        }
      }
      return false;
    };

    const merge = async (id: string, value: number) => {
      const v = ledger.state.candidates.get(id)!;
      const head = ledger.state.head;
      let diff = v.diff;
      try {
        if (v.parent !== head) diff = await repo.rebaseDiff(v.diff, head);
        const commit = await repo.commitPatch(head, diff, mergeMessage(v, config.target.metric.name));
        await repo.advanceBranch(commit, head);
        mergeLog.push({
          atS: nowS,
          candidateId: id,
          previousHead: head,
          commit,
          busyS: busyS + running.reduce((a, r) => a + Math.max(0, nowS - r.startS), 0),
        });
        await ledger.append({
          case: 'merged',
          value: {
            candidateId: id,
            commit,
            previousHead: head,
            metricBefore: headValue ?? 0,
            metricAfter: value,
            stage: config.stages[rungs[top]!.stageIndex]!.name,
          },
        });
        headValue = value;
        log(`ASHA merged ${id} "${v.candidate.title}" (${value.toFixed(6)})`);
      } catch (err) {
        log(`ASHA could not carry ${id} onto the head: ${(err as Error).message}`);
        await reject(id, 'cannot rebase onto head');
      }
    };
    const reject = (id: string, reason: string) =>
      ledger.append({
        case: 'verdict',
        value: {
          candidateId: id,
          kind: VerdictKind.REJECT,
          stage: config.stages[rungs[top]!.stageIndex]!.name,
          reason,
        },
      });

    let exhausted = false;
    let idle = o.workers;
    for (;;) {
      while (idle > 0 && (await assign())) idle--;
      if (running.length === 0) {
        exhausted = true;
        break;
      }
      let next = running[0]!;
      for (const r of running) if (r.endS < next.endS) next = r;
      if (next.endS > o.budgetS) break;
      nowS = next.endS;
      running.splice(running.indexOf(next), 1);
      idle++;
      busyS += next.endS - next.startS;
      const stage = config.stages[rungs[next.rung]!.stageIndex]!.name;
      trialsByStage[stage] = (trialsByStage[stage] ?? 0) + 1;
      if (!next.id) {
        baselineTrials++;
        headValue = next.value;
        continue;
      }
      ladder.record(next.id, next.rung, next.value);
      if (next.rung < top) continue;
      const better =
        headValue !== undefined &&
        Number.isFinite(next.value) &&
        (lowerIsBetter ? next.value < headValue : next.value > headValue);
      if (better) await merge(next.id, next.value);
      else await reject(next.id, 'not better than the head at the top rung');
    }
    const endS = exhausted ? nowS : o.budgetS;
    for (const r of running) busyS += Math.max(0, Math.min(r.endS, endS) - r.startS);

    const trueAt = (commit: string) => textAt(commit).then((t) => o.oracle.trueMetric(t, o.topDepth));
    const scored = await scoreMerges(mergeLog, ledger, trueAt);
    return {
      ...scored,
      trialsByStage,
      baselineTrials,
      busyS,
      endS,
      exhausted,
      stoppedTrials: 0,
      stopSavedS: 0,
      candidates: ledger.state.candidates.size,
      outcomes: { promoted_to_top: ladder.size(top), merged: scored.merges.length },
      verdicts: Object.fromEntries(rungs.map((r, k) => [`rung${k}_depth${r.depth}`, ladder.size(k)])),
      wallS: (performance.now() - wallStart) / 1000,
      repo: repoStats,
    };
  } finally {
    await closeIntake().catch(() => undefined);
    await repo.close().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  }
}
