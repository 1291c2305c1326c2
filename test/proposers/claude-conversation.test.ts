/**
 * The claude proposer on the real @anthropic-ai/sdk against the local
 * Messages-API server: tool round trips, tool errors sent back to the model,
 * retries that honour retry-after, and usage charged per request.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArswarmError } from '../../common/errors.js';
import {
  ClaudeProposer,
  costUsd,
  type ClaudeProposerOptions,
} from '../../coordinator/proposers/claude/index.js';
import { apiKeyGetter } from '../../coordinator/proposers/claude/api-key.js';
import { fakeContext } from '../support/proposal-context.js';
import {
  replies,
  scenarios,
  startMessagesApiServer,
  type MessagesApiServer,
  type Step,
} from '../support/messages-api-server.js';

const TRAIN = 'import os\n\nLEARNING_RATE = 0.001\nDROPOUT = 0.1\nprint(f"val_bpb: {0.9}")\n';
const price = { inputPerMtok: 3, outputPerMtok: 15 };
let server: MessagesApiServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function setup(script: Step[], over: Partial<ClaudeProposerOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-claude-'));
  writeFileSync(join(dir, 'api-key'), 'sk-test-key\n');
  server = await startMessagesApiServer({ script, apiKey: 'sk-test-key' });
  const proposer = new ClaudeProposer({
    model: 'claude-test',
    maxTokens: 1024,
    baseURL: server.url,
    apiKey: apiKeyGetter({ file: join(dir, 'api-key'), env: {} }),
    price,
    maxAttempts: 2,
    retryBaseDelayMs: 50,
    ...over,
  });
  const ctx = fakeContext({
    files: { 'train.py': TRAIN, 'prepare.py': 'EVAL = 1\n' },
    locked: ['prepare.py'],
    protected: ['^\\s*print\\(f"val_bpb'],
    maxPatchBytes: 4096,
  });
  return { proposer, ctx, server };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err as ArswarmError,
  );

describe('claude proposer conversation', () => {
  it('reads a file, submits a valid candidate, and charges every request at the configured price', async () => {
    const { proposer, ctx, server } = await setup([
      {
        conversation: scenarios.good({
          file: 'train.py',
          search: 'LEARNING_RATE = 0.001',
          replace: 'LEARNING_RATE = 0.002',
        }),
      },
    ]);
    const p = await proposer.propose(ctx);
    expect(p!.title).toBe('raise LEARNING_RATE to 0.002');
    expect(p!.hypothesis).toMatch(/\(mode: explore\)$/);
    expect(p!.diff).toContain('+LEARNING_RATE = 0.002');
    expect(server.requests.map((r) => r.status)).toEqual([200, 200]);
    expect(server.requests.every((r) => r.authorized)).toBe(true);
    // The second request carried the file back as a tool result.
    expect(server.requests[1]!.toolResults[0]).toEqual({ content: TRAIN, isError: false });
    // The system prompt is the brief plus the rules; the first message inlines the file and states the mode.
    const first = server.requests[0]!.body;
    expect(first.system).toMatch(/Editable files: train.py. Locked \(never change\): prepare.py/);
    expect(JSON.stringify(first.messages[0])).toContain('Mode: EXPLORE');
    expect(JSON.stringify(first.messages[0])).toContain('<file path=\\"train.py\\">');
    expect(first.temperature).toBeUndefined();
    // Cost adds up: tokens x price, request by request.
    expect(ctx.charges).toHaveLength(2);
    const input = ctx.charges.reduce((n, c) => n + c.inputTokens, 0);
    const output = ctx.charges.reduce((n, c) => n + c.outputTokens, 0);
    expect({ input, output }).toEqual({
      input: server.billed.inputTokens,
      output: server.billed.outputTokens,
    });
    const dollars = ctx.charges.reduce((n, c) => n + c.costUsd, 0);
    expect(dollars).toBeCloseTo(costUsd(input, output, price), 12);
    expect(dollars).toBeCloseTo((input * 3 + output * 15) / 1e6, 12);
  });

  it('sends each refusal back to the model as a tool error, then fails with the reason', async () => {
    const cases: [Step, string, RegExp][] = [
      [{ conversation: scenarios.malformedJson() }, 'invalid_tool_input', /expected object/i],
      [{ conversation: scenarios.lockedFile() }, 'locked_file', /prepare.py is locked/],
      [
        { conversation: scenarios.searchMiss() },
        'search_not_found',
        /search string was not found in train.py/,
      ],
      [
        { conversation: scenarios.oversized('DROPOUT = 0.1', 8000) },
        'too_large',
        /patch is \d+ bytes \(limit 4096\)/,
      ],
      [{ conversation: scenarios.syntaxError('DROPOUT = 0.1') }, 'syntax_error', /train.py does not compile/],
      [
        {
          conversation: scenarios.always('protected', {
            title: 'print a better number',
            hypothesis: 'Changing the report changes the metric.',
            edits: [
              { file: 'train.py', search: 'print(f"val_bpb: {0.9}")', replace: 'print(f"val_bpb: {0.1}")' },
            ],
          }),
        },
        'protected_line',
        /protected line/,
      ],
      [{ conversation: scenarios.textOnly() }, 'no_candidate', /without calling submit_candidate/],
    ];
    for (const [step, reason, message] of cases) {
      const { proposer, ctx, server } = await setup([step]);
      const err = await failure(proposer.propose(ctx));
      expect(err.reason, reason).toBe(reason);
      expect(err.message).toMatch(/^2 submissions refused; last/);
      expect(err.message).toMatch(message);
      expect(server.requests).toHaveLength(2);
      if (reason !== 'no_candidate') {
        const back = server.requests[1]!.toolResults[0]!;
        expect(back.isError).toBe(true);
        expect(back.content).toMatch(message);
      }
      // Tokens of a failed conversation are still charged.
      expect(ctx.charges).toHaveLength(2);
      await server.close();
    }
  });

  it('retries 429 after retry-after, and 529 and 500 with backoff, on the same conversation', async () => {
    const good = scenarios.good(
      { file: 'train.py', search: 'DROPOUT = 0.1', replace: 'DROPOUT = 0.05' },
      'halve DROPOUT',
    );
    const { proposer, ctx, server } = await setup([
      { reply: replies.rateLimited(1) },
      { conversation: good },
      { reply: replies.overloaded() },
      { reply: replies.serverError() },
    ]);
    const p = await proposer.propose(ctx);
    expect(p!.title).toBe('halve DROPOUT');
    expect(server.requests.map((r) => r.status)).toEqual([429, 200, 529, 500, 200]);
    const waited = server.requests[1]!.at - server.requests[0]!.at;
    expect(waited).toBeGreaterThanOrEqual(950);
    // Failed requests cost nothing: only the two answered ones are charged.
    expect(ctx.charges).toHaveLength(2);
  });

  it('gives up on a request after max retries with rate_limited', async () => {
    const { proposer, ctx } = await setup(
      [
        { reply: replies.rateLimited(0) },
        { reply: replies.rateLimited(0) },
        { reply: replies.rateLimited(0) },
      ],
      { maxRetries: 2 },
    );
    const err = await failure(proposer.propose(ctx));
    expect(err.reason).toBe('rate_limited');
    expect(err.message).toMatch(/Messages API 429.*gave up after 3 attempts/);
  });

  it('stops before a request when the budget is spent', async () => {
    const { proposer, server } = await setup([]);
    const ctx = fakeContext({ files: { 'train.py': TRAIN }, withinBudget: () => false });
    const err = await failure(proposer.propose(ctx));
    expect(err.reason).toBe('budget_exhausted');
    expect(server.requests).toHaveLength(0);
  });

  it('sends a configured temperature (the SDK types no longer carry it)', async () => {
    const { proposer, ctx, server } = await setup(
      [
        {
          conversation: scenarios.good({
            file: 'train.py',
            search: 'DROPOUT = 0.1',
            replace: 'DROPOUT = 0.2',
          }),
        },
      ],
      { temperature: 0.7 },
    );
    await proposer.propose(ctx);
    expect(server.requests[0]!.body.temperature).toBe(0.7);
  });
});
