/**
 * tinygpt end to end on CPU: a real nats-server, the coordinator, two worker
 * processes, the knobs proposer and 3 s slots. At least one candidate must
 * climb screen, confirm and scale and then merge (or wait for review).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState, VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { requireExtras } from '../support/extras.js';
import { startLocalSwarm, type LocalSwarm } from '../support/local-swarm.js';
import { examplePath, run, TORCH_PYTHON } from './support.js';

// Generous: a shared or loaded machine stretches every slot.
const WAIT_MS = 360_000;

/** Every numeric module-level constant of tinygpt's train.py except `keep`. */
function excludeAllBut(keep: string[]): string[] {
  const text = readFileSync(examplePath('tinygpt', 'train.py'), 'utf8');
  const names = [...text.matchAll(/^([A-Z][A-Z0-9_]*) = [-+.\d]/gm)].map((m) => m[1]!);
  expect(names).toEqual(expect.arrayContaining(keep));
  return names.filter((n) => !keep.includes(n));
}

describe('local swarm on tinygpt', () => {
  let swarm: LocalSwarm | undefined;
  let cache: string;
  const logs: string[] = [];

  beforeAll(async () => {
    requireExtras('torch');
    // One corpus for every trial, generated before the clock starts.
    cache = mkdtempSync(join(tmpdir(), 'arswarm-tinygpt-cache-'));
    const prep = await run(TORCH_PYTHON, ['prepare.py'], {
      cwd: examplePath('tinygpt'),
      env: { ARSWARM_TINYGPT_CACHE: cache },
    });
    expect(prep.code, prep.stderr).toBe(0);
    swarm = await startLocalSwarm({
      example: 'tinygpt',
      workers: 2,
      logs,
      edit: (c) => {
        c.target.env.ARSWARM_TINYGPT_CACHE = cache;
        for (const s of c.stages) {
          s.budget_seconds = 3;
          s.timeout_seconds = 60;
        }
        c.stages[1]!.replicates = 2;
        c.stages[2]!.replicates = 1;
        c.swarm.baseline_replicates = 2;
        c.swarm.max_trials = 40;
        c.swarm.merge_policy = 'auto';
        c.swarm.prefix = 'tinygptswarm';
        // This test is about the ladder end to end within 40 trials of 3 s slots,
        // whose CPU noise is large; the run-wide bound (levels for a 24 h run of
        // 16 workers) has its own calibration test, so each stage keeps its z.
        c.swarm.false_merge_rate = 0;
        // Only the two knobs with large effects in short slots, so that the
        // test spends its trials on the ladder rather than on crashes and no-ops.
        c.proposers = [{ kind: 'knobs', exclude: excludeAllBut(['LEARNING_RATE', 'BATCH_SIZE']), seed: 1 }];
      },
    });
  }, 120_000);

  afterAll(async () => {
    await swarm?.stop();
    rmSync(cache, { recursive: true, force: true });
  });

  it('takes a candidate through screen, confirm and scale to a merge', async () => {
    const s = swarm!.coordinator.ledger.state;
    const done = () =>
      [...s.candidates.values()].some((c) => c.state === CandidateState.MERGED || c.state === CandidateState.REVIEW);
    const deadline = Date.now() + WAIT_MS;
    let settled = false;
    void swarm!.coordinator.settled.then(() => (settled = true));
    while (!done() && !settled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));

    const finished = [...s.candidates.values()].filter(
      (c) => c.state === CandidateState.MERGED || c.state === CandidateState.REVIEW,
    );
    expect(finished.length, logs.slice(-40).join('\n')).toBeGreaterThan(0);
    const c = finished[0]!;
    const promotedAt = c.verdicts.filter((v) => v.kind === VerdictKind.PROMOTE).map((v) => v.stage);
    for (const stage of ['screen', 'confirm', 'scale']) expect(promotedAt).toContain(stage);
    // Every promotion was an improvement (lower val_bpb) over the baseline.
    for (const v of c.verdicts.filter((x) => x.kind === VerdictKind.PROMOTE)) expect(v.delta).toBeGreaterThan(0);
  }, WAIT_MS + 30_000);
});
