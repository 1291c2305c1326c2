import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config-load.js';
import { simulateAsha } from './asha-swarm.js';
import { LandscapeOracle } from './oracle.js';
import { policies } from './policies.js';

const CONFIG = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'examples',
  'landscape',
  'arswarm.yaml',
);

describe('simulateAsha on the landscape (4 workers, 2 simulated hours)', () => {
  const loaded = loadConfig(CONFIG);
  const oracle = new LandscapeOracle(loaded.repoDir);
  afterAll(() => oracle.close());

  it('measures the head once at the top rung and runs the top rung only for promoted configurations', async () => {
    const asha = policies(loaded.config, 4).find((p) => p.name === 'asha')!;
    expect(asha.driver).toBe('asha');
    const out = await simulateAsha({
      config: asha.config,
      landscapeDir: loaded.repoDir,
      oracle,
      workers: 4,
      budgetS: 2 * 3600,
      knobsSeed: 1,
      noiseSeed: 1,
      topDepth: 8,
    });
    expect(out.baselineTrials).toBe(1);
    // Rungs are the first stage of each distinct (DEPTH, slot): screen and scale, never confirm.
    expect(Object.keys(out.trialsByStage).sort()).toEqual(['scale', 'screen']);
    const screen = out.trialsByStage.screen!;
    const scale = out.trialsByStage.scale! - out.baselineTrials;
    expect(screen).toBeGreaterThan(20);
    expect(scale).toBeGreaterThan(0);
    // Every top-rung run is a promotion of a configuration with a rung-0 result. Asynchronous
    // promotion can take more than a third in all (a later, better proposal enters the top
    // third while earlier promotions stay), which a proposer that follows the head makes common.
    expect(scale).toBeLessThanOrEqual(screen);
    expect(out.outcomes.promoted_to_top).toBe(scale);
    // 4 workers, one trial each at a time: busy time within the budget's worker-hours.
    expect(out.busyS).toBeLessThanOrEqual(4 * 2 * 3600);
    for (const m of out.merges) expect(m.atS).toBeLessThanOrEqual(2 * 3600);
    expect(out.stoppedTrials).toBe(0);
  }, 120_000);
});
