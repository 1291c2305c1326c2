/**
 * A GPU never waits for an LLM: a real local swarm (nats-server, coordinator,
 * 4 worker processes, the landscape target with ~0.5 s trials) fed only by
 * the claude proposer through the local Messages-API server, where every
 * conversation takes 2 s. Worker idle time while no trial waited in a queue
 * is measured from the ledger's trial timestamps. With the proposal pool it
 * stays at (about) zero; with one slow conversation at a time the same swarm
 * starves, which shows the measure can fail.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claudeProposerSchema } from '../../common/config.js';
import { until } from '../support/candidates.js';
import { allStartedAt, idleWaiting, trialSpans, type IdleReport } from '../support/idle-waiting.js';
import { startLocalSwarm, type LocalSwarm } from '../support/local-swarm.js';
import { scenarios, startMessagesApiServer, type MessagesApiServer } from '../support/messages-api-server.js';

const WORKERS = 4;
const SLOT_S = 0.5;
const PROPOSER_S = 2;

let server: MessagesApiServer | undefined;
let swarm: LocalSwarm | undefined;

afterEach(async () => {
  await swarm?.stop();
  await server?.close();
  swarm = undefined;
  server = undefined;
});

async function run(
  concurrency: number,
  proposerS: number,
  prefix: string,
  windowMs: number,
): Promise<IdleReport & { trials: number }> {
  server = await startMessagesApiServer({
    fallback: scenarios.slow(proposerS * 1000, scenarios.tweak(['SEED', 'DEPTH'])),
  });
  const keyFile = join(mkdtempSync(join(tmpdir(), 'arswarm-key-')), 'key');
  writeFileSync(keyFile, 'sk-offline');
  const url = server.url;
  swarm = await startLocalSwarm({
    example: 'landscape',
    workers: WORKERS,
    edit: (c) => {
      // 300 s of simulated budget (plus the simulated start-up) in about SLOT_S seconds.
      c.target.env.ARSWARM_TIME_SCALE = String(SLOT_S / 322);
      c.swarm.prefix = prefix;
      c.swarm.workers = WORKERS;
      c.swarm.merge_policy = 'auto';
      c.swarm.max_trials = 0;
      c.proposers = [
        claudeProposerSchema.parse({ kind: 'claude', base_url: url, api_key_file: keyFile, concurrency }),
      ];
    },
  });
  const s = swarm.coordinator.ledger.state;
  const ids = Array.from({ length: WORKERS }, (_, i) => `w${i + 1}`);
  await until(() => allStartedAt(trialSpans(s), ids) !== undefined, 60_000, 'every worker running');
  const from = allStartedAt(trialSpans(s), ids)!;
  await new Promise((r) => setTimeout(r, windowMs));
  const to = Date.now();
  return { ...idleWaiting(trialSpans(s), ids, from, to), trials: s.finished };
}

describe('no worker waits for a proposal', () => {
  it(`with ${PROPOSER_S} s conversations, ${SLOT_S} s trials and ${WORKERS} workers, idle waiting stays near zero`, async () => {
    const r = await run(12, PROPOSER_S, 'nowait', 12_000);
    const info = JSON.stringify(r);
    expect(r.trials, info).toBeGreaterThan(20);
    // Generous margin: under 1% of worker time (a starving swarm loses tens of percent, see below).
    expect(r.idleWaitingMs / r.workerMs, info).toBeLessThan(0.01);
  }, 120_000);

  it('with one 8 s conversation at a time the same swarm starves (the measure can fail)', async () => {
    const r = await run(1, 8, 'nowaitctl', 10_000);
    const info = JSON.stringify(r);
    // One idea per 8 s cannot keep 4 workers busy: a large share of worker time is spent waiting.
    expect(r.idleWaitingMs / r.workerMs, info).toBeGreaterThan(0.1);
  }, 120_000);
});
