/**
 * The whole local swarm, end to end: a real nats-server, the coordinator, two
 * worker processes and the landscape target with a tiny time scale. The shared
 * branch must improve (by the landscape's noise-free oracle) and every merge
 * commit must change only editable files and carry its trailers.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resultsTsv, RESULTS_COLUMNS } from '../coordinator/results-tsv.js';
import { startLocalSwarm, type LocalSwarm } from './support/local-swarm.js';

const trueMetric = (swarm: LocalSwarm, commit: string, depth: number): number => {
  const train = execFileSync('git', ['-C', join(swarm.stateDir, 'repo'), 'show', `${commit}:train.py`], {
    encoding: 'utf8',
  });
  const file = join(swarm.dir, `train-${commit.slice(0, 7)}.py`);
  writeFileSync(file, train);
  const out = execFileSync(
    'python3',
    [join(swarm.repoDir, 'prepare.py'), '--true-metric', file, '--depth', String(depth)],
    { encoding: 'utf8' },
  );
  return Number(out.trim());
};

describe('local swarm on the landscape', () => {
  let swarm: LocalSwarm;
  const logs: string[] = [];

  beforeAll(async () => {
    swarm = await startLocalSwarm({
      example: 'landscape',
      workers: 2,
      logs,
      edit: (c) => {
        c.target.env.ARSWARM_TIME_SCALE = '0.0005';
        c.swarm.max_trials = 70;
        c.swarm.merge_policy = 'auto';
        c.swarm.prefix = 'swarmtest';
      },
    });
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
  });

  it('runs trials, merges improvements into the shared branch and settles', async () => {
    await swarm.coordinator.settled;
    const s = swarm.coordinator.ledger.state;
    expect(s.finished).toBeGreaterThanOrEqual(70);
    expect(s.merges.length).toBeGreaterThan(0);
    const first = s.heads[0]!;
    const top = swarm.config.stages.at(-1)!;
    const depth = Number(top.env.DEPTH);
    expect(trueMetric(swarm, s.head, depth)).toBeLessThan(trueMetric(swarm, first, depth));
  }, 240_000);

  it('every merge commit changes only editable files and names its candidate', () => {
    const repo = join(swarm.stateDir, 'repo');
    const s = swarm.coordinator.ledger.state;
    for (const m of s.merges) {
      const files = execFileSync('git', ['-C', repo, 'diff', '--name-only', m.previousHead, m.commit], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n');
      expect(files).toEqual(['train.py']);
      const msg = execFileSync('git', ['-C', repo, 'log', '-1', '--format=%B', m.commit], {
        encoding: 'utf8',
      });
      expect(msg).toContain(`Arswarm-Candidate: ${m.candidateId}`);
      expect(msg).toMatch(/Arswarm-Stage-screen: delta=/);
    }
    const log = execFileSync('git', ['-C', repo, 'log', '--format=%H', swarm.config.swarm.branch], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    expect(log[0]).toBe(s.head);
  });

  it('exports results.tsv in autoresearch columns', () => {
    const tsv = resultsTsv(swarm.coordinator.ledger.state).trim().split('\n');
    expect(tsv[0]!.split('\t')).toEqual([...RESULTS_COLUMNS]);
    expect(tsv[1]).toMatch(/^[0-9a-f]{7}\t\d\.\d{6}\t\d+\.\d\tkeep\tbaseline$/);
    for (const row of tsv.slice(2))
      expect(row).toMatch(/^[0-9a-f]{7}\t\d\.\d{6}\t\d+\.\d\t(keep|discard|crash)\t.+$/);
    expect(tsv.filter((r) => r.includes('\tkeep\t')).length).toBe(
      swarm.coordinator.ledger.state.merges.length + 1,
    );
  });
});
