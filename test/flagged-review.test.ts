/**
 * A candidate the top-stage audit flags, on a real local swarm under
 * `merge_policy: auto`: a real improvement (LEARNING_RATE) smuggled in with a
 * seed change passes every rung, the rule audit flags `seed-tamper`, and the
 * candidate waits in review instead of merging. `arswarm review` and
 * `arswarm show` print the flag with its reasons, the dashboard's review card
 * (headless Chromium) shows a "flagged: ..." badge, and only a person's
 * approval merges it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audited } from '../coordinator/gaming-audit/index.js';
import { unifiedDiff } from '../common/diff/index.js';
import { AuditSource, CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import { requireExtras } from './support/extras.js';
import { BIN, ROOT, type LocalSwarm } from './support/local-swarm.js';
import { LADDER_TIMEOUT_MS, startControlSwarm, TOKENS, waitFor } from './support/control-swarm.js';

const SHOTS = join(ROOT, 'test-results');

describe('a flagged candidate under merge_policy auto', () => {
  let swarm: LocalSwarm;
  let id = '';
  let cwd = '';

  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((ok) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          cwd,
          timeout: 30_000,
          env: {
            ...process.env,
            HOME: cwd,
            XDG_CONFIG_HOME: join(cwd, '.config'),
            ARSWARM_ADDR: `127.0.0.1:${swarm.coordinator.grpcPort}`,
            ARSWARM_TOKEN: TOKENS.reviewer,
          },
        },
        (err, stdout, stderr) =>
          ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  beforeAll(async () => {
    swarm = await startControlSwarm({ prefix: 'flagrev', edit: (c) => (c.swarm.merge_policy = 'auto') });
    cwd = mkdtempSync(join(tmpdir(), 'arswarm-flagged-'));
    const before = readFileSync(join(swarm.repoDir, 'train.py'), 'utf8');
    const after = before
      .replace(/^LEARNING_RATE = .*$/m, 'LEARNING_RATE = 0.002')
      .replace(/^SEED = .*$/m, 'SEED = 7');
    id = await swarm.coordinator.submit({
      diff: unifiedDiff([{ path: 'train.py', before, after }]),
      title: 'double the learning rate (and a tidier seed)',
      hypothesis: 'the default learning rate is far below the optimum',
      proposer: 'human:test',
    });
    await waitFor(
      () => {
        const v = swarm.coordinator.ledger.state.candidates.get(id);
        return v && v.state === CandidateState.REVIEW && audited(v) ? true : undefined;
      },
      'the candidate audited in review',
      LADDER_TIMEOUT_MS,
    );
  }, LADDER_TIMEOUT_MS + 40_000);

  afterAll(async () => {
    await swarm?.stop();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  it('is flagged by the rule audit and stays in review under auto', async () => {
    const v = swarm.coordinator.ledger.state.candidates.get(id)!;
    expect(v.flags.map((f) => [f.source, f.rule])).toEqual([[AuditSource.RULE, 'seed-tamper']]);
    expect(v.flags[0]!.reasons.join(' ')).toContain('SEED');
    // Well past a scheduler tick, it has not merged on its own.
    await new Promise((r) => setTimeout(r, 1500));
    expect(swarm.coordinator.ledger.state.candidates.get(id)!.state).toBe(CandidateState.REVIEW);
    expect(swarm.coordinator.ledger.state.merges).toEqual([]);
  });

  it('shows the flag and its reasons in arswarm review, ls and show', async () => {
    const review = await cli(['review']);
    expect(review.code, review.stderr).toBe(0);
    expect(review.stdout).toContain(id);
    expect(review.stdout).toMatch(/flagged by rule \(seed-tamper\): train\.py:\d+: changes the seed/);
    expect(review.stdout).toContain('merges only when a person approves it');
    const ls = await cli(['ls']);
    expect(ls.stdout).toMatch(new RegExp(`${id}\\s+review \\(flagged\\)`));
    const show = await cli(['show', id]);
    expect(show.stdout).toContain('flagged by rule (seed-tamper)');
    expect(show.stdout).toMatch(/audit: rules: seed-tamper/);
  });

  it('shows a "flagged" badge with the reasons on the dashboard review card', async () => {
    requireExtras('browser');
    mkdirSync(SHOTS, { recursive: true });
    const profile = mkdtempSync(join(tmpdir(), 'arswarm-chromium-'));
    let browser: BrowserContext | undefined;
    try {
      browser = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--no-first-run',
        ],
        viewport: { width: 1360, height: 1000 },
      });
      const page = browser.pages()[0] ?? (await browser.newPage());
      await page.goto(`http://127.0.0.1:${swarm.coordinator.httpPort}/#token=${TOKENS.reviewer}`);
      const card = page.locator(`article[data-candidate="${id}"]`);
      await card.waitFor();
      expect(await card.locator('.badge.flagged').textContent()).toBe('flagged: seed-tamper');
      expect(await card.locator('.flags li').first().textContent()).toMatch(
        /rule \(seed-tamper\): .*changes the seed/i,
      );
      await page.screenshot({ path: join(SHOTS, 'dashboard-flagged.png'), fullPage: true });
    } finally {
      await browser?.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });

  it('merges only once a person approves it', async () => {
    const r = await cli(['review', 'approve', id, '-m', 'the seed change is harmless here']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(
      () =>
        swarm.coordinator.ledger.state.candidates.get(id)?.state === CandidateState.MERGED ? true : undefined,
      'the approved candidate merged',
      LADDER_TIMEOUT_MS,
    );
    expect(swarm.coordinator.ledger.state.merges.map((m) => m.candidateId)).toEqual([id]);
  });
});
