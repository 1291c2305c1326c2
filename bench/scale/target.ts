/**
 * The scale benchmark's target: a folder whose `train.py` holds many numeric
 * constants (the simulated workers never run it), a config with the
 * landscape's three-stage ladder, and a generator of one-constant candidate
 * diffs that are all distinct (no duplicate or near-duplicate refusals).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { unifiedDiff } from '../../common/diff/index.js';

/** Constants in the generated train.py. */
export const KNOBS = 200;
/** The value every constant starts at; candidate i sets one to FIRST_VALUE * 1000 + i. */
const FIRST_VALUE = 1000;

export interface ScaleTargetOptions {
  prefix: string;
  grpcPort: number;
  /** Sizes the coordinator's queues (workers x prefetch). */
  workers: number;
  /** Seconds before a silent worker's trial is redelivered. */
  ackWaitS: number;
}

function trainLines(): string[] {
  const lines = ['# Simulated target of `npm run bench -- scale`: its workers never run this file.'];
  for (let k = 0; k < KNOBS; k++) lines.push(`K${String(k).padStart(4, '0')} = ${FIRST_VALUE}`);
  lines.push('print("---")', 'print(f"val_bpb: {1.0:.6f}")');
  return lines;
}

/** Writes the target folder and its arswarm.yaml; returns the config path. */
export function writeScaleTarget(dir: string, o: ScaleTargetOptions): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train.py'), trainLines().join('\n') + '\n');
  writeFileSync(join(dir, 'prepare.py'), 'VOCAB = 256\n');
  const stage = (name: string, replicates: number, z: number, minDelta: number) => ({
    name,
    env: { DEPTH: name === 'scale' ? 8 : 4 },
    budget_seconds: 300,
    timeout_seconds: 420,
    replicates,
    ...(name === 'screen' ? { max_replicates: 3 } : {}),
    promote: { z, min_delta: minDelta },
  });
  const config = {
    target: {
      repo: '.',
      editable: ['train.py'],
      locked: ['prepare.py'],
      protected: ['^print\\('],
      command: 'python3 train.py',
      metric: { name: 'val_bpb', direction: 'minimize' },
    },
    stages: [stage('screen', 1, 1, 0), stage('confirm', 3, 2, 0.001), stage('scale', 2, 0, 0.001)],
    swarm: {
      prefix: o.prefix,
      workers: o.workers,
      merge_policy: 'auto',
      baseline_replicates: 3,
      max_trials: 0,
      grpc_port: o.grpcPort,
      http_port: 0,
      ack_wait_seconds: o.ackWaitS,
      max_deliveries: 5,
    },
    // Candidates come from the benchmark through SubmitCandidate (see submitter.ts).
    proposers: [],
  };
  const path = join(dir, 'arswarm.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

/** The diff of candidate `i`: one constant set to a value no other candidate uses. */
export function candidateDiff(i: number): { diff: string; title: string } {
  const lines = trainLines();
  const k = i % KNOBS;
  const name = `K${String(k).padStart(4, '0')}`;
  const value = FIRST_VALUE * 1000 + i;
  const before = lines.join('\n') + '\n';
  const after = lines.map((l, j) => (j === k + 1 ? `${name} = ${value}` : l)).join('\n') + '\n';
  return { title: `set ${name} to ${value}`, diff: unifiedDiff([{ path: 'train.py', before, after }]) };
}
