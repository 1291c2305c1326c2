/**
 * Output integrity and the worker's own semantic check, with a real worker
 * against a real nats-server, git target and CodeService: a run that prints
 * two result blocks, repeats a key or reports more training time than it ran
 * is INTEGRITY; a patch that rebinds a locked name or edits the frozen region
 * never runs (INTEGRITY, the rule named); a worker without python3 does not
 * run a patch unchecked (INFRA).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingSecondsCheck } from '../../gen/arswarm/v1/trial_pb.js';
import { TrialStatus } from '../../gen/arswarm/v1/trial_pb.js';
import { Worker } from '../../worker/index.js';
import { commitFiles, exited, gitIn, Harness, type TargetInit } from '../support/worker-harness.js';

// Shaped like autoresearch: names from the locked prepare.py, the evaluation, then the report.
const TRAIN = `import os
import time

from prepare import TIME_BUDGET, evaluate_bpb

LR = 0.01
MODE = os.environ.get("MODE", "ok")

t0 = time.time()
time.sleep(0.2)
training_seconds = time.time() - t0
if MODE == "forge_time":
    training_seconds = TIME_BUDGET
if MODE == "twice":
    print("---")
    print("val_bpb:          0.500000")
val_bpb = evaluate_bpb(LR)
print("---")
print(f"val_bpb:          {val_bpb:.6f}")
print(f"training_seconds: {training_seconds:.1f}")
if MODE == "repeat":
    print("val_bpb:          0.500000")
`;
const PREPARE = `TIME_BUDGET = 300


def evaluate_bpb(lr):
    return 1.0 + lr
`;

const h = new Harness({ files: { 'train.py': TRAIN, 'prepare.py': PREPARE } });
let worker: Worker | undefined;

const integrity = {
  semantic: true,
  evalFunctions: ['evaluate_bpb'],
  reportKeys: ['val_bpb', 'training_seconds'],
  frozen: [{ file: 'train.py', startPattern: '^val_bpb = evaluate_bpb\\(' }],
  trainingSeconds: TrainingSecondsCheck.ALL,
  wallToleranceSeconds: 2,
  wallToleranceFraction: 0.05,
  budgetToleranceSeconds: 5,
  budgetToleranceFraction: 0.1,
};

function trial(o: { mode?: string; diff?: string; target?: Partial<TargetInit> } = {}) {
  const t = h.trial({ diff: o.diff ?? '', target: { integrity, ...o.target } as TargetInit });
  t.target.env = { MODE: o.mode ?? 'ok' };
  return t;
}

function diffOf(edit: (src: string) => string): string {
  commitFiles(h.repo, { 'train.py': edit(readFileSync(join(h.repo, 'train.py'), 'utf8')) }, 'tmp');
  const diff = gitIn(h.repo, 'diff', 'HEAD~1', 'HEAD') + '\n';
  gitIn(h.repo, 'reset', '-q', '--hard', 'HEAD~1');
  return diff;
}

beforeAll(async () => {
  await h.start();
  worker = new Worker({
    natsUrl: h.nats.url,
    codeAddr: h.codeAddr,
    prefix: h.names.prefix,
    gpus: 'none',
    workDir: join(h.dir, 'work'),
    id: 'w1',
    heartbeatMs: 200,
    pollExpiresMs: 300,
    logger: () => undefined,
  });
  await worker.start();
});

afterAll(async () => {
  await worker?.close();
  await h.stop();
});

describe('worker: output integrity', () => {
  it('an honest run is OK; two blocks, a repeated key or forged training time are INTEGRITY with the rule', async () => {
    const ids = {
      ok: await h.queue(trial()),
      twice: await h.queue(trial({ mode: 'twice' })),
      repeat: await h.queue(trial({ mode: 'repeat' })),
      forge: await h.queue(trial({ mode: 'forge_time' })),
      // The same forged time with the check off (a target that simulates time and opts out).
      off: await h.queue(
        trial({
          mode: 'forge_time',
          target: { integrity: { ...integrity, trainingSeconds: TrainingSecondsCheck.OFF } },
        }),
      ),
    };
    const r = await h.waitResults(Object.values(ids), 40_000);
    const ok = r.get(ids.ok)!;
    expect(ok.reason).toBe('');
    expect(ok.status).toBe(TrialStatus.OK);
    expect(ok.metric).toBeCloseTo(1.01, 6);

    const twice = r.get(ids.twice)!;
    expect(twice.status).toBe(TrialStatus.INTEGRITY);
    expect(twice.reason).toMatch(
      /^rule duplicate-result-block: a second result block at output line 3 \(the first at line 1\)/,
    );

    const repeat = r.get(ids.repeat)!;
    expect(repeat.status).toBe(TrialStatus.INTEGRITY);
    expect(repeat.reason).toBe('rule repeated-key: val_bpb at output lines 2 and 4 of the result block');

    const forge = r.get(ids.forge)!;
    expect(forge.status).toBe(TrialStatus.INTEGRITY);
    expect(forge.reason).toMatch(
      /^rule training-seconds-mismatch: training_seconds 300 is more than the run took: measured [\d.]+ s \(limit [\d.]+ s: \+5% \+2 s\)$/,
    );
    expect(r.get(ids.off)!.status).toBe(TrialStatus.OK);
  });
});

describe('worker: semantic check before the run', () => {
  it('a patch rebinding a locked name or touching the frozen region never runs', async () => {
    const budget = diffOf((s) => s.replace('LR = 0.01\n', 'LR = 0.01\nTIME_BUDGET = 600\n'));
    const frozen = diffOf((s) =>
      s.replace('val_bpb = evaluate_bpb(LR)\n', 'val_bpb = evaluate_bpb(LR)\nval_bpb -= 0.5\n'),
    );
    const honest = diffOf((s) => s.replace('LR = 0.01', 'LR = 0.02'));
    const ids = {
      budget: await h.queue(trial({ diff: budget })),
      frozen: await h.queue(trial({ diff: frozen })),
      honest: await h.queue(trial({ diff: honest })),
    };
    const r = await h.waitResults(Object.values(ids), 40_000);
    const b = r.get(ids.budget)!;
    expect(b.status).toBe(TrialStatus.INTEGRITY);
    expect(b.reason).toBe(
      'patch refused by the semantic check: train.py:7: rule locked-name-assign: assignment to TIME_BUDGET imported from locked prepare.py',
    );
    expect(b.runMs).toBe(0n);
    const f = r.get(ids.frozen)!;
    expect(f.status).toBe(TrialStatus.INTEGRITY);
    expect(f.reason).toMatch(/train\.py:18: rule frozen-region: /);
    expect(f.reason).toMatch(
      /train\.py:18: rule eval-result-mutation: val_bpb holds the evaluation's result/,
    );
    const ok = r.get(ids.honest)!;
    expect(ok.status).toBe(TrialStatus.OK);
    expect(ok.metric).toBeCloseTo(1.02, 6);
  });

  it('a worker without python3 fails the patched trial as INFRA instead of running it unchecked', async () => {
    // PATH with every tool of /usr/bin but python; the target runs with an absolute interpreter.
    const bin = join(h.dir, 'no-python-bin');
    mkdirSync(bin);
    for (const tool of readdirSync('/usr/bin'))
      if (!tool.startsWith('python')) symlinkSync(join('/usr/bin', tool), join(bin, tool));
    if (!existsSync(join(bin, 'node'))) symlinkSync(process.execPath, join(bin, 'node'));
    // The only worker from here on.
    await worker?.close();
    worker = undefined;
    const child = h.spawnWorker('w-nopy', [], { ...process.env, PATH: bin });
    try {
      const diff = diffOf((s) => s.replace('LR = 0.01', 'LR = 0.03'));
      const patched = trial({ diff, target: { command: '/usr/bin/python3 train.py' } });
      const baseline = trial({ target: { command: '/usr/bin/python3 train.py' } });
      const ids = [await h.queue(patched), await h.queue(baseline)];
      const r = await h.waitResults(ids, 40_000);
      const p = r.get(ids[0]!)!;
      expect(p.status).toBe(TrialStatus.INFRA);
      expect(p.reason).toMatch(
        /^the semantic check of train\.py could not run \(python3 not found\); the patch is not accepted unchecked$/,
      );
      expect(p.runMs).toBe(0n);
      // No patch, nothing to check: the baseline runs.
      const b = r.get(ids[1]!)!;
      expect(b.status, b.reason + b.logTail).toBe(TrialStatus.OK);
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  });
});
