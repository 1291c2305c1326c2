/**
 * A mixed fleet, end to end: a real nats-server, the coordinator, two CPU
 * worker processes and `arswarm worker --gpus all` processes with fake GPUs
 * of two classes (A10G 23028 MiB, H100 81559 MiB), on the landscape with
 * memory floors on the upper rungs (confirm >= 20000 MB, scale >= 40000 MB).
 * First without the H100: scale's candidates wait and say so (status,
 * /metrics) while screen and confirm go on. Then the A10G leaves in the
 * middle of a candidate's confirm runs and the H100 joins: that candidate's
 * confirm is re-routed to the H100, the waiting work runs, a candidate merges
 * and the bounded run settles by itself. Every verdict's evidence comes from
 * one class, and no trial ran below its floor.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import { TrialKind, TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { submitConstant, until } from './support/candidates.js';
import { startGpuWorker } from './support/gpu-workers.js';
import { startLocalSwarm, type LocalSwarm } from './support/local-swarm.js';

const A10 = 'A10G-24GB';
const H100 = 'H100-80GB';
const MEMORY: Record<string, number> = { cpu: 0, [A10]: 23_028, [H100]: 81_559 };

interface StatusJson {
  stages: {
    name: string;
    finished?: number;
    waiting?: number;
    waitingCandidates?: number;
    waitingFor?: string;
  }[];
  warnings?: string[];
}

describe('mixed fleet: CPU workers and fake GPUs of two classes, memory floors on the upper rungs', () => {
  let swarm: LocalSwarm;
  const logs: string[] = [];
  let lr = '';
  let a10: ChildProcess;
  /** The candidate whose confirm runs were on the A10G when it left. */
  let moved = '';

  const base = () => `http://127.0.0.1:${swarm.coordinator.httpPort}`;
  const status = async (): Promise<StatusJson> => {
    const res = await fetch(`${base()}/api/GetStatus`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${swarm.coordinator.api.generated!.token}`,
      },
      body: '{}',
    });
    expect(res.status).toBe(200);
    return (await res.json()) as StatusJson;
  };
  const stageOf = (s: StatusJson, name: string) => s.stages.find((x) => x.name === name)!;

  beforeAll(async () => {
    swarm = await startLocalSwarm({
      example: 'landscape',
      workers: 2,
      logs,
      edit: (c) => {
        c.target.env.ARSWARM_TIME_SCALE = '0.0005';
        c.swarm.merge_policy = 'auto';
        c.swarm.prefix = 'mixedfleet';
        c.swarm.max_trials = 60;
        c.stages[1]!.min_gpu_memory_mb = 20_000;
        c.stages[2]!.min_gpu_memory_mb = 40_000;
      },
    });
    a10 = startGpuWorker(swarm, 'a10', [{ name: 'NVIDIA A10G', memoryMib: 23_028 }], (l) => logs.push(l));
    const c = swarm.coordinator;
    await until(() => c.workers.live().length === 3, 30_000, 'two CPU workers and the A10G');
    expect(c.workers.classes()).toEqual([A10, 'cpu']);
    // A clear improvement at every depth, so at least one candidate climbs the whole ladder.
    lr = await submitConstant(c, 'LEARNING_RATE', '0.004', 'raise learning rate to 0.004');
  }, 60_000);

  afterAll(async () => {
    if (process.env.ARSWARM_TEST_DEBUG) console.log(logs.join('\n'));
    await swarm?.stop();
  });

  it('without a worker for scale, its candidates wait and say so while screen and confirm go on', async () => {
    let s = await status();
    const end = Date.now() + 60_000;
    while (!stageOf(s, 'scale').waitingCandidates) {
      if (Date.now() > end) throw new Error('no candidate reached scale');
      await new Promise((r) => setTimeout(r, 250));
      s = await status();
    }
    expect(stageOf(s, 'scale').waitingFor).toBe('a worker with >= 40000 MB');
    expect(s.warnings).toEqual([
      'stage scale needs a worker with >= 40000 MB of GPU memory; the live workers have at most 23028 MB on A10G-24GB: its candidates wait',
    ]);
    const metrics = await (await fetch(`${base()}/metrics`)).text();
    expect(metrics).toMatch(
      /^arswarm_candidates_waiting\{stage="scale",waiting_for="a worker with >= 40000 MB"\} [1-9]/m,
    );
    // Logged by the coordinator's next tick after the warning appears (status computes it live).
    await until(
      () => logs.some((l) => l.startsWith('warning: stage scale needs a worker with >= 40000 MB')),
      10_000,
      'the stage warning in the log',
    );
    // Nothing was queued for a class that cannot run scale, and the other stages keep their workers busy.
    const state = swarm.coordinator.ledger.state;
    expect([...state.trials.values()].filter((t) => t.trial.stage?.name === 'scale')).toEqual([]);
    const done = state.finished;
    await until(() => swarm.coordinator.ledger.state.finished >= done + 3, 30_000, 'more results');
  }, 90_000);

  it('the A10G leaving mid-candidate re-routes its confirm to the H100 that joins; candidates climb, merge, the run settles', async () => {
    const c = swarm.coordinator;
    const s = c.ledger.state;
    // A clear improvement that will pass screen and start its confirm runs on the A10G (the only
    // class that may run confirm now); refused only if the knobs proposer had the same idea.
    await submitConstant(c, 'WARMUP_STEPS', '2', 'two warm-up steps').catch(() => undefined);
    // A candidate in the middle of its confirm runs on the A10G.
    await until(
      () => {
        for (const v of s.candidates.values()) {
          if (v.state !== CandidateState.ACTIVE || v.stageIndex !== 1) continue;
          const trials = s.trialsOf(v.candidate.id, v.parent, 'confirm');
          if (trials.some((t) => t.trial.gpuClass === A10 && !t.result)) moved = v.candidate.id;
        }
        return moved !== '';
      },
      60_000,
      'a candidate at confirm on the A10G',
    );
    a10.kill('SIGKILL');
    startGpuWorker(swarm, 'h100', [{ name: 'NVIDIA H100 80GB HBM3', memoryMib: 81_559 }], (l) =>
      logs.push(l),
    );
    await c.settled;
    expect(c.settledReason).toBe('the trial budget is spent (60 trials)');
    expect(s.merges.length).toBeGreaterThan(0);
    expect(s.merges.map((m) => m.candidateId)).toContain(lr);
    expect(logs).toContain(`${moved} at confirm: no live ${A10} worker, re-routed to ${H100}`);
    const judged = s.candidates.get(moved)!.verdicts.filter((x) => x.stage === 'confirm' && x.n > 0);
    expect(judged.map((x) => x.gpuClass)).toEqual([H100]);
    // Only what the A10G left behind waits (for an A10G); no candidate waits.
    const after = await status();
    expect(after.warnings ?? []).toEqual([]);
    for (const st of after.stages) {
      expect([st.name, st.waitingCandidates ?? 0]).toEqual([st.name, 0]);
      if (st.waiting) expect(st.waitingFor).toBe(`a ${A10} worker`);
    }
  }, 150_000);

  it("judges every verdict on one class, against that class's baseline, and runs nothing below its floor", () => {
    const s = swarm.coordinator.ledger.state;
    const floor = new Map(swarm.config.stages.map((st) => [st.name, st.min_gpu_memory_mb]));
    let judged = 0;
    for (const v of s.candidates.values())
      for (const verdict of v.verdicts) {
        if (verdict.n === 0) continue;
        judged++;
        const classes = verdict.trialIds.map((id) => s.trials.get(id)?.result?.gpuClass);
        expect(new Set(classes), `${v.candidate.id} ${verdict.stage}`).toEqual(new Set([verdict.gpuClass]));
        expect(MEMORY[verdict.gpuClass]!).toBeGreaterThanOrEqual(floor.get(verdict.stage)!);
        // Its baseline: OK runs of the same class at that stage.
        const baseline = [...s.trials.values()].filter(
          (t) =>
            t.trial.kind === TrialKind.BASELINE &&
            t.trial.stage?.name === verdict.stage &&
            t.result?.status === TrialStatus.OK &&
            t.result.gpuClass === verdict.gpuClass,
        );
        expect(baseline.length).toBeGreaterThanOrEqual(swarm.config.swarm.baseline_replicates);
      }
    expect(judged).toBeGreaterThan(3);
    const lrView = s.candidates.get(lr)!;
    expect(lrView.verdicts.filter((x) => x.stage === 'scale').map((x) => x.gpuClass)).toContain(H100);
    expect(
      lrView.verdicts.filter((x) => x.stage === 'confirm' && x.n > 0).every((x) => x.gpuClass !== 'cpu'),
    ).toBe(true);
    // Each candidate's replicates at a stage went to one class's queue (or ran on one class) and ran there.
    const queues = new Map<string, Set<string>>();
    const ranOn = new Set<string>();
    for (const tv of s.trials.values()) {
      const stage = tv.trial.stage!.name;
      if (tv.result) {
        expect(MEMORY[tv.result.gpuClass]!, tv.trial.id).toBeGreaterThanOrEqual(floor.get(stage)!);
        // Work queued before any worker had been seen sits in `any`; everything else on its class.
        if (tv.trial.gpuClass !== 'any') expect(tv.result.gpuClass, tv.trial.id).toBe(tv.trial.gpuClass);
        if (stage === 'screen') ranOn.add(tv.result.gpuClass);
      }
      if (tv.trial.kind !== TrialKind.CANDIDATE) continue;
      const key = `${tv.trial.candidateId}|${stage}`;
      const cls = tv.trial.gpuClass === 'any' ? tv.result?.gpuClass : tv.trial.gpuClass;
      if (cls) queues.set(key, (queues.get(key) ?? new Set()).add(cls));
    }
    // Only stages caught on the A10G when it left ran on two classes: the A10G, then the class they
    // were re-routed to and judged on.
    const rerouted = [...queues].filter(([, set]) => set.size > 1);
    expect(rerouted.map(([key]) => key)).toContain(`${moved}|confirm`);
    for (const [key, set] of rerouted) {
      const [id, stage] = key.split('|') as [string, string];
      expect(set.has(A10), key).toBe(true);
      const to = [...set].find((x) => x !== A10)!;
      expect(set.size, key).toBe(2);
      expect(logs).toContain(`${id} at ${stage}: no live ${A10} worker, re-routed to ${to}`);
      const last = s.candidates
        .get(id)!
        .verdicts.filter((x) => x.stage === stage && x.n > 0)
        .at(-1);
      if (last) expect([key, last.gpuClass]).toEqual([key, to]);
    }
    // The screen's candidates spread over more than one class.
    expect(ranOn.size).toBeGreaterThan(1);
  });
});
