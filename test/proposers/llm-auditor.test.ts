/**
 * The LLM auditor on the real @anthropic-ai/sdk against the local
 * Messages-API server: verdicts through the report_audit tool, malformed
 * answers sent back and retried, rate limits retried, and every failure
 * reported as "could not audit" with what it cost. Then the top-stage audit
 * on a real repo and ledger: a suspect verdict, an auditor that cannot
 * answer and a spent budget each flag the candidate; a clean one does not.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { auditorSchema } from '../../common/auditor-config.js';
import { loadConfig } from '../../common/config-load.js';
import { buildAuditor, GamingAudit, LlmAuditor } from '../../coordinator/gaming-audit/index.js';
import { Ledger, memoryStore } from '../../coordinator/ledger/ledger.js';
import { TargetRepo } from '../../coordinator/repo.js';
import { unifiedDiff } from '../../common/diff/index.js';
import { AuditSource, VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { ROOT } from '../support/local-swarm.js';
import {
  replies,
  startMessagesApiServer,
  type AssistantTurn,
  type MessagesApiServer,
  type Scenario,
} from '../support/messages-api-server.js';

const KEY = 'sk-auditor-test-key';
const CASE = {
  candidateId: 'c00001',
  title: 'raise the learning rate',
  hypothesis: 'a larger step',
  diff: '--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-LR = 0.001\n+LR = 0.002\n',
  evidence: ['confirm: delta 0.01 ± 0.001 over 3 paired runs'],
  rules: ['locked files: prepare.py'],
  metric: 'val_bpb (lower is better)',
};
const answer = (input: unknown): AssistantTurn => ({
  content: [{ type: 'tool_use', name: 'report_audit', input }],
});

let server: MessagesApiServer | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  for (const c of cleanups.splice(0)) await c();
});

async function auditor(fallback: Scenario, script: Parameters<typeof startMessagesApiServer>[0] = {}) {
  server = await startMessagesApiServer({ apiKey: KEY, fallback, ...script });
  return new LlmAuditor({
    model: 'claude-auditor',
    maxTokens: 1024,
    baseURL: server.url,
    apiKey: async () => KEY,
    price: { inputPerMtok: 3, outputPerMtok: 15 },
    retryBaseDelayMs: 20,
  });
}

describe('LLM auditor', () => {
  it('returns the verdict of report_audit, charged at the configured price', async () => {
    const a = await auditor(() => answer({ verdict: 'suspect', reasons: ['scales the metric'] }));
    const r = await a.audit(CASE);
    expect(r).toMatchObject({ kind: 'suspect', reasons: ['scales the metric'] });
    const billed = server!.billed;
    expect(r.usage.inputTokens).toBe(billed.inputTokens);
    expect(r.usage.costUsd).toBeCloseTo((billed.inputTokens * 3 + billed.outputTokens * 15) / 1e6, 12);
    // The auditor saw the candidate and was made to answer through the tool.
    const body = server!.requests[0]!.body;
    expect(JSON.stringify(body.messages)).toContain('raise the learning rate');
    expect(body.tool_choice).toEqual({ type: 'tool', name: 'report_audit' });
  });

  it('sends a malformed answer back as a tool error and takes the corrected one', async () => {
    const a = await auditor((t) =>
      t.turn === 0 ? answer({ verdict: 'maybe', reasons: [] }) : answer({ verdict: 'ok', reasons: [] }),
    );
    const r = await a.audit(CASE);
    expect(r.kind).toBe('ok');
    expect(server!.requests).toHaveLength(2);
    expect(server!.requests[1]!.toolResults[0]).toMatchObject({ isError: true });
    expect(server!.requests[1]!.toolResults[0]!.content).toContain('verdict');
  });

  it('gives up after max attempts of malformed answers, and says so with what they cost', async () => {
    const a = await auditor(() => answer({ verdict: 'suspect', reasons: [] }));
    const r = await a.audit(CASE);
    expect(r.kind).toBe('failed');
    expect(r.reasons[0]).toMatch(/3 malformed answers; .*at least one reason/);
    expect(r.usage.outputTokens).toBeGreaterThan(0);
    expect(server!.requests).toHaveLength(3);
  });

  it('retries a rate limit, and reports a refused key as a failure', async () => {
    const a = await auditor(() => answer({ verdict: 'ok', reasons: [] }), {
      script: [{ reply: replies.rateLimited(0) }],
    });
    expect((await a.audit(CASE)).kind).toBe('ok');
    await server!.close();
    server = await startMessagesApiServer({
      apiKey: 'another-key',
      fallback: () => answer({ verdict: 'ok', reasons: [] }),
    });
    const wrong = new LlmAuditor({
      model: 'claude-auditor',
      maxTokens: 1024,
      baseURL: server.url,
      apiKey: async () => KEY,
      price: { inputPerMtok: 3, outputPerMtok: 15 },
    });
    const r = await wrong.audit(CASE);
    expect(r.kind).toBe('failed');
    expect(r.reasons[0]).toMatch(/^unauthenticated/);
  });
});

describe('top-stage audit with the LLM auditor', () => {
  /** A real repo and ledger with one candidate that passed the top stage. */
  async function reviewed(fallback: Scenario, dollars = 0, priorSpend = 0) {
    const dir = mkdtempSync(join(tmpdir(), 'arswarm-audit-'));
    cpSync(join(ROOT, 'examples', 'landscape'), join(dir, 'target'), {
      recursive: true,
      filter: (p) => !p.includes('.arswarm') && !p.includes('__pycache__'),
    });
    server = await startMessagesApiServer({ apiKey: KEY, fallback });
    const config = structuredClone(loadConfig(join(dir, 'target', 'arswarm.yaml')).config);
    config.auditor = auditorSchema.parse({ kind: 'claude', base_url: server.url, budget: { dollars } });
    const repo = await TargetRepo.open({
      sourceDir: join(dir, 'target'),
      stateDir: join(dir, 'state'),
      branch: 'arswarm/main',
      base: 'HEAD',
    });
    cleanups.push(async () => {
      await repo.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const ledger = await Ledger.open(
      memoryStore(),
      config.stages.map((s) => s.name),
    );
    const head = await repo.head();
    await ledger.append({ case: 'swarmStarted', value: { branch: 'arswarm/main', head } });
    if (priorSpend)
      await ledger.append({
        case: 'candidateAudited',
        value: { candidateId: 'c-old', parentCommit: head, usage: { costUsd: priorSpend } },
      });
    const before = (await repo.readFile(head, 'train.py'))!;
    const diff = unifiedDiff([
      { path: 'train.py', before, after: before.replace('LEARNING_RATE = 0.001', 'LEARNING_RATE = 0.002') },
    ]);
    await ledger.append({
      case: 'candidateProposed',
      value: { candidate: { id: 'c00001', parentCommit: head, diff, title: 'raise LR', proposer: 'claude' } },
    });
    await ledger.append({
      case: 'verdict',
      value: { candidateId: 'c00001', stage: config.stages.at(-1)!.name, kind: VerdictKind.PROMOTE, n: 2 },
    });
    const audit = new GamingAudit({
      config,
      ledger,
      repo,
      exclusive: (fn) => fn(),
      auditor: buildAuditor(config, { env: { ANTHROPIC_API_KEY: KEY } }),
      log: () => undefined,
    });
    const v = ledger.state.candidates.get('c00001')!;
    audit.request(v);
    expect(audit.pending(v)).toBe(true);
    await audit.idle();
    return { v, ledger };
  }

  it('records a clean audit with the auditor spend', async () => {
    const { v, ledger } = await reviewed(() => answer({ verdict: 'ok', reasons: [] }));
    expect(v.flags).toEqual([]);
    expect(v.audit?.note).toMatch(/^rules: clean; llm: ok \(claude-sonnet-5-5/);
    expect(v.audit?.usage?.costUsd).toBeGreaterThan(0);
    expect(ledger.state.auditCostUsd).toBe(v.audit?.usage?.costUsd);
  });

  it('flags a suspect verdict as an llm finding', async () => {
    const { v } = await reviewed(() => answer({ verdict: 'suspect', reasons: ['tuned to the scorer'] }));
    expect(v.flags.map((f) => [f.source, f.rule, f.reasons, f.auditorModel])).toEqual([
      [AuditSource.LLM, 'llm-suspect', ['tuned to the scorer'], 'claude-sonnet-5-5'],
    ]);
  });

  it('flags a candidate the auditor could not audit', async () => {
    const { v } = await reviewed(() => ({ content: [{ type: 'text', text: 'I will not use the tool.' }] }));
    expect(v.flags.map((f) => [f.source, f.rule])).toEqual([[AuditSource.UNAUDITED, 'llm-unavailable']]);
  });

  it('flags instead of calling the auditor once its budget is spent', async () => {
    const { v } = await reviewed(() => answer({ verdict: 'ok', reasons: [] }), 1, 1.5);
    expect(v.flags.map((f) => [f.source, f.rule])).toEqual([[AuditSource.UNAUDITED, 'llm-budget-spent']]);
    expect(v.audit?.note).toContain('skipped (dollar budget spent)');
    expect(server!.requests).toHaveLength(0);
  });
});
