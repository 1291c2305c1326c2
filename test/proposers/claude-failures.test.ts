/**
 * The claude proposer inside a real coordinator (nats-server, ledger, intake,
 * scheduler; no workers), driven by the local Messages-API server: every
 * malformed conversation ends as one ProposerFailed event with a clear code
 * and no trial; good ones become candidates with trials; cost adds up from
 * the server's bill to the ledger; a slow reply never blocks the coordinator;
 * near-duplicates are refused with the reason.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState } from '../../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../../gen/arswarm/v1/event_pb.js';
import { claudeProposerSchema } from '../../common/config.js';
import { ArswarmError } from '../../common/errors.js';
import { constantDiff, until } from '../support/candidates.js';
import { startLocalSwarm, type LocalSwarm } from '../support/local-swarm.js';
import {
  replies,
  scenarios,
  startMessagesApiServer,
  type MessagesApiServer,
} from '../support/messages-api-server.js';

const PRICE = { input_per_mtok: 3, output_per_mtok: 15 };
const MODEL = 'claude-sonnet-5-5';
const edit = (name: string, from: string, to: string) => ({
  file: 'train.py',
  search: `${name} = ${from}`,
  replace: `${name} = ${to}`,
});

/** Expected failures, in script order: scenario, code, words the reason must contain. */
const FAILURES: [string, string, RegExp][] = [
  ['malformed_json', 'invalid_tool_input', /does not match its schema/],
  ['locked_file', 'locked_file', /prepare.py is locked/],
  ['search_miss', 'search_not_found', /search string was not found in train.py/],
  ['oversized', 'too_large', /patch is \d+ bytes \(limit 65536\)/],
  ['syntax_error', 'syntax_error', /train.py does not compile/],
  ['text_only', 'no_candidate', /without calling submit_candidate/],
  ['near_duplicate', 'near_duplicate', /same effect as c00001 .*LEARNING_RATE = 0.002/],
];

describe('claude proposer in a coordinator', () => {
  let server: MessagesApiServer;
  let swarm: LocalSwarm;
  const events: Event[] = [];
  const logs: string[] = [];
  let exclusiveMs: number[] = [];

  beforeAll(async () => {
    server = await startMessagesApiServer({
      apiKey: 'sk-from-secret-file',
      script: [
        { conversation: scenarios.good(edit('LEARNING_RATE', '0.001', '0.002')) },
        { conversation: scenarios.malformedJson() },
        { conversation: scenarios.lockedFile() },
        { conversation: scenarios.searchMiss() },
        { conversation: scenarios.oversized('GRAD_CLIP = 1.0') },
        { conversation: scenarios.syntaxError('GRAD_CLIP = 1.0') },
        { reply: replies.rateLimited(1) },
        { conversation: scenarios.good(edit('DROPOUT', '0.1', '0.05'), 'halve DROPOUT') },
        { reply: replies.serverError() },
        { conversation: scenarios.textOnly() },
        {
          conversation: scenarios.always('near_duplicate', {
            title: 'double the learning rate',
            hypothesis: 'The same as c00001, written differently.',
            edits: [edit('LEARNING_RATE', '0.001', '2e-3  # doubled')],
          }),
        },
        { reply: replies.overloaded() },
        {
          conversation: scenarios.slow(
            3000,
            scenarios.good(edit('GRAD_CLIP', '1.0', '0.5'), 'halve GRAD_CLIP'),
          ),
        },
      ],
    });
    swarm = await startLocalSwarm({
      example: 'landscape',
      workers: 0,
      logs,
      edit: (c) => {
        const keyFile = join(tmpdir(), `arswarm-key-${process.pid}`);
        writeFileSync(keyFile, 'sk-from-secret-file\n');
        c.swarm.prefix = 'claudefail';
        c.swarm.workers = 1;
        c.swarm.prefetch = 8;
        c.proposers = [
          claudeProposerSchema.parse({
            kind: 'claude',
            base_url: server.url,
            api_key_file: keyFile,
            concurrency: 1,
            max_attempts: 2,
            price: PRICE,
          }),
        ];
      },
    });
    swarm.coordinator.ledger.onEvent((e) => events.push(e));
    // Wait for the slow conversation to start, then time the coordinator's serial section during it.
    await until(() => server.requests.some((r) => r.scenario === 'slow_good'), 60_000, 'the slow reply');
    const t0 = Date.now();
    exclusiveMs = [];
    while (Date.now() - t0 < 2000) {
      const s = performance.now();
      await swarm.coordinator.exclusive(async () => undefined);
      exclusiveMs.push(performance.now() - s);
      await new Promise((r) => setTimeout(r, 100));
    }
    await until(
      () => swarm.coordinator.ledger.state.candidateTrials('c00003').length > 0,
      30_000,
      'the third candidate and its trial',
    );
  }, 120_000);

  afterAll(async () => {
    await swarm?.stop();
    await server?.close();
  });

  it('turns each malformed conversation into one ProposerFailed event with a clear code, and no trial', () => {
    const failed = events
      .filter((e) => e.body.case === 'proposerFailed')
      .map((e) => e.body.value as { code: string; reason: string; proposer: string });
    expect(failed.map((f) => f.code)).toEqual(FAILURES.map(([, code]) => code));
    FAILURES.forEach(([, , words], i) => {
      expect(failed[i]!.proposer).toBe('claude');
      expect(failed[i]!.reason).toMatch(/^2 submissions refused; last \(\w+\): /);
      expect(failed[i]!.reason).toMatch(words);
    });
    const s = swarm.coordinator.ledger.state;
    expect(s.proposerFailures).toBe(FAILURES.length);
    // Only the three good conversations became candidates, and only they have trials.
    const candidates = [...s.candidates.values()];
    expect(candidates.map((v) => v.candidate.title)).toEqual([
      'raise LEARNING_RATE to 0.002',
      'halve DROPOUT',
      'halve GRAD_CLIP',
    ]);
    expect(candidates.every((v) => v.state === CandidateState.ACTIVE)).toBe(true);
    const withTrials = new Set([...s.trials.values()].map((t) => t.trial.candidateId).filter(Boolean));
    expect([...withTrials].sort()).toEqual(['c00001', 'c00002', 'c00003']);
  });

  it('retried the 429 after its retry-after and the 500 and 529 with backoff', () => {
    const statuses = server.requests.map((r) => r.status);
    expect(statuses.filter((x) => x === 429)).toHaveLength(1);
    expect(statuses.filter((x) => x === 500)).toHaveLength(1);
    expect(statuses.filter((x) => x === 529)).toHaveLength(1);
    const i = server.requests.findIndex((r) => r.status === 429);
    expect(server.requests[i + 1]!.at - server.requests[i]!.at).toBeGreaterThanOrEqual(950);
    // The key came from the Secret file.
    expect(server.requests.every((r) => r.authorized)).toBe(true);
  });

  it('adds up the cost: the server bill x price = candidates + failed attempts, and the state sums both', () => {
    const s = swarm.coordinator.ledger.state;
    let input = 0;
    let output = 0;
    let dollars = 0;
    let candidateDollars = 0;
    for (const v of s.candidates.values()) {
      const u = v.candidate.usage!;
      expect(u.model).toBe(MODEL);
      expect(u.costUsd).toBeCloseTo((Number(u.inputTokens) * 3 + Number(u.outputTokens) * 15) / 1e6, 12);
      input += Number(u.inputTokens);
      output += Number(u.outputTokens);
      dollars += u.costUsd;
      candidateDollars += u.costUsd;
    }
    for (const e of events)
      if (e.body.case === 'proposerFailed') {
        const u = e.body.value.usage!;
        expect(Number(u.inputTokens)).toBeGreaterThan(0);
        input += Number(u.inputTokens);
        output += Number(u.outputTokens);
        dollars += u.costUsd;
      }
    expect({ inputTokens: input, outputTokens: output }).toEqual(server.billed);
    expect(dollars).toBeCloseTo((server.billed.inputTokens * 3 + server.billed.outputTokens * 15) / 1e6, 10);
    expect(s.costUsd).toBeCloseTo(dollars, 10);
    expect(s.costUsd).toBeGreaterThan(candidateDollars);
    expect(swarm.coordinator.intake.pool.spent('claude')!.dollars).toBeCloseTo(dollars, 10);
  });

  it('kept the coordinator responsive while a reply took 3 s', () => {
    expect(exclusiveMs.length).toBeGreaterThan(5);
    expect(Math.max(...exclusiveMs)).toBeLessThan(1000);
  });

  it('refuses a person’s near-duplicate of an idea in flight, with the reason', async () => {
    const c = swarm.coordinator;
    const diff = await constantDiff(c, 'LEARNING_RATE', '0.0020');
    const err = await c
      .submit({ diff, title: 'LR to two thousandths', hypothesis: 'same idea', proposer: 'human' })
      .then(
        () => undefined,
        (e: unknown) => e as ArswarmError,
      );
    if (!err) throw new Error('a near-duplicate was accepted');
    expect(err).toBeInstanceOf(ArswarmError);
    expect(err.reason).toBe('near_duplicate');
    expect(err.message).toMatch(
      /same effect as c00001 "raise LEARNING_RATE to 0.002" \(active\): train.py: LEARNING_RATE = 0.002/,
    );
    const refused = [...c.ledger.state.candidates.values()].at(-1)!;
    expect(refused.state).toBe(CandidateState.REFUSED);
    expect(c.ledger.state.candidateTrials(refused.candidate.id)).toHaveLength(0);
  });
});
