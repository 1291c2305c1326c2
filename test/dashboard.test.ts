/**
 * The dashboard in headless Chromium (playwright-core, Debian's chromium)
 * against a real local swarm with `merge_policy: review`: the progress chart
 * and a pending review with its evidence and diff appear, a reviewer approves
 * it in the page, and the merge lands on the shared branch. Screenshots are
 * left in test-results/ to look at.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../gen/arswarm/v1/event_pb.js';
import { requireExtras } from './support/extras.js';
import { ROOT, type LocalSwarm } from './support/local-swarm.js';
import {
  branchHead,
  knobDiff,
  LADDER_TIMEOUT_MS,
  startControlSwarm,
  TOKENS,
  waitFor,
} from './support/control-swarm.js';

const SHOTS = join(ROOT, 'test-results');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** The page follows the coordinator's live stream (a 400 ms debounce, then four calls): slow under load. */
const POLL = { timeout: 20_000, interval: 100 };

describe('dashboard', () => {
  let swarm: LocalSwarm;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  let url: string;
  const ids: string[] = [];

  beforeAll(async () => {
    requireExtras('browser');
    mkdirSync(SHOTS, { recursive: true });
    swarm = await startControlSwarm({ prefix: 'ctlweb' });
    const c = swarm.coordinator;
    ids.push(
      await c.submit({
        diff: knobDiff(swarm.repoDir, 'LEARNING_RATE', '0.002'),
        title: 'double the learning rate',
        hypothesis: 'the default learning rate is far below the optimum for this model size',
        proposer: 'human:test',
      }),
      await c.submit({
        diff: knobDiff(swarm.repoDir, 'WARMUP_STEPS', '2'),
        title: 'two warm-up steps',
        hypothesis: 'no warm-up hurts the first steps',
        proposer: 'human:test',
      }),
    );
    url = `http://127.0.0.1:${c.httpPort}/`;
    profile = mkdtempSync(join(tmpdir(), 'arswarm-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1360, height: 1000 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    await waitFor(
      () =>
        ids.every((id) => c.ledger.state.candidates.get(id)?.state === CandidateState.REVIEW)
          ? true
          : undefined,
      'both candidates in review',
      LADDER_TIMEOUT_MS,
    );
  }, LADDER_TIMEOUT_MS + 40_000);

  afterAll(async () => {
    await browser?.close();
    await swarm?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('asks for a token and refuses a wrong one', async () => {
    await page.goto(url);
    await expect.poll(() => page.textContent('#banner'), POLL).toContain('enter a token');
    await page.fill('#token', 'wrong-token-0000000000');
    await page.click('#token-form button');
    await expect.poll(() => page.textContent('#banner'), POLL).toMatch(/token/);
    expect(await page.textContent('#live')).toBe('signed out');
  });

  it('shows the chart, the workers and the pending reviews with evidence and diff', async () => {
    await page.goto(`${url}#token=${TOKENS.reviewer}`);
    await page.waitForSelector(`article[data-candidate="${ids[0]}"]`);
    // The token moved from the link into localStorage.
    expect(await page.evaluate(() => window.location.hash)).toBe('');
    expect(await page.evaluate(() => window.localStorage.getItem('arswarm.token'))).toBe(TOKENS.reviewer);
    expect(await page.textContent('#whoami')).toBe('reviewer · reviewer');
    await expect.poll(() => page.textContent('#live'), POLL).toBe('live');
    expect(await page.locator('#charts svg.chart').count()).toBe(3);
    expect(await page.locator('figure[data-stage="screen"] circle.pt').count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('figure[data-stage="screen"] path.step').count()).toBe(1);
    expect(await page.locator('#workers tbody tr').count()).toBe(2);
    const card = page.locator(`article[data-candidate="${ids[0]}"]`);
    expect(await card.locator('.evidence tbody tr').count()).toBe(3);
    expect(await card.locator('.evidence .verdict.promote').count()).toBe(3);
    expect(await card.locator('pre.diff .add').textContent()).toContain('LEARNING_RATE = 0.002');
    expect(await page.textContent('#review-count')).toBe('2');
    await page.screenshot({ path: join(SHOTS, 'dashboard-review.png'), fullPage: true });
  });

  it('approves in the page and the merge lands on the shared branch', async () => {
    const before = branchHead(swarm);
    const card = page.locator(`article[data-candidate="${ids[0]}"]`);
    await card.locator('input.note').fill('clear win at every depth');
    await card.locator('button.approve').click();
    const head = await waitFor(() => {
      const h = branchHead(swarm);
      return h !== before ? h : undefined;
    }, 'the merge on the shared branch');
    const msg = execFileSync('git', ['-C', join(swarm.stateDir, 'repo'), 'log', '-1', '--format=%B', head], {
      encoding: 'utf8',
    });
    expect(msg).toContain(`Arswarm-Candidate: ${ids[0]}`);
    let decided: Event | undefined;
    for await (const ev of swarm.coordinator.ledger.history(1n))
      if (ev.body.case === 'reviewDecided' && ev.body.value.candidateId === ids[0]) decided = ev;
    expect(decided?.body.value).toMatchObject({
      approve: true,
      reviewer: 'reviewer',
      note: 'clear win at every depth',
    });
    // The live stream refreshes the page: the card is gone and the journal shows the merge.
    await page.waitForSelector(`article[data-candidate="${ids[0]}"]`, { state: 'detached' });
    await expect.poll(() => page.textContent('[data-testid="merges"] b'), POLL).toBe('1');
    expect(await page.locator('#journal .badge.merged').count()).toBe(1);
    expect(await page.locator('figure[data-stage="scale"] circle.pt.kept').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'dashboard-merged.png'), fullPage: true });
  }, 30_000);

  it('lets a viewer see but not decide', async () => {
    await page.fill('#token', TOKENS.viewer);
    await page.click('#token-form button');
    await expect.poll(() => page.textContent('#whoami'), POLL).toBe('viewer · viewer');
    const card = page.locator(`article[data-candidate="${ids[1]}"]`);
    await card.waitFor();
    expect(await card.locator('button.approve').isDisabled()).toBe(true);
    expect(await card.locator('.warn').textContent()).toContain('head moved');
  });
});
