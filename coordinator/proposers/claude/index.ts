/**
 * The `claude` proposer: a research agent on the Messages API with tool use.
 * Each proposal is one conversation: the model reads the brief, the files at
 * the head and the journal (with tools for more), and submits one candidate
 * as search/replace edits. A submission that breaks a rule (locked file,
 * protected line, no unique match, oversized, syntax error, duplicate) goes
 * back to the model as a tool error, a bounded number of times; then the
 * conversation fails with the last reason. Every request's tokens are
 * charged to the pool as they are spent.
 */
import Anthropic from '@anthropic-ai/sdk';
import type {
  ContentBlock,
  ContentBlockParam,
  Message,
  MessageCreateParamsNonStreaming,
  MessageParam,
  ToolResultBlockParam,
  ToolUseBlock,
} from '@anthropic-ai/sdk/resources/messages/messages.js';
import { ArswarmError, Code, type Reason } from '../../../common/errors.js';
import { entryLine } from '../../journal.js';
import { ModePicker, type ModePlan } from '../diversity.js';
import type { Proposal, ProposalContext, Proposer, ProposerLimits } from '../proposer.js';
import { messagesClient, usageOf } from './client.js';
import { applyEdits } from './edits.js';
import {
  resolveClaudeProposerOptions,
  type ClaudeProposerOptions,
  type ResolvedClaudeProposerOptions,
} from './options.js';
import { firstMessage, inlineFiles, systemPrompt } from './prompt.js';
import { withRetry } from './retry.js';
import { PythonSyntaxChecker } from './syntax.js';
import {
  describeZodError,
  listHistoryInput,
  matchesFilter,
  readFileInput,
  submitCandidateInput,
  TOOLS,
} from './tools.js';

export { CLAUDE_PROPOSER_DEFAULTS, type ClaudeProposerOptions } from './options.js';
export { costUsd } from './client.js';

/** Largest file text returned by read_file, characters. */
const READ_LIMIT = 200_000;

type ToolOutcome = { text: string; isError: boolean; reason?: Reason; proposal?: Proposal };

function toParam(b: ContentBlock): ContentBlockParam | undefined {
  switch (b.type) {
    case 'text':
      return { type: 'text', text: b.text };
    case 'tool_use':
      return { type: 'tool_use', id: b.id, name: b.name, input: b.input };
    case 'thinking':
      return { type: 'thinking', thinking: b.thinking, signature: b.signature };
    case 'redacted_thinking':
      return { type: 'redacted_thinking', data: b.data };
    default:
      return undefined;
  }
}

export class ClaudeProposer implements Proposer {
  readonly name: string;
  readonly limits?: ProposerLimits;
  private readonly client: Anthropic;
  private readonly picker: ModePicker;
  private readonly log: (msg: string) => void;
  private readonly syntax: PythonSyntaxChecker;

  private readonly o: ResolvedClaudeProposerOptions;

  constructor(options: ClaudeProposerOptions) {
    const o = (this.o = resolveClaudeProposerOptions(options));
    this.name = o.name;
    this.limits = o.limits;
    this.log = o.log;
    this.client = messagesClient({ apiKey: o.apiKey, baseURL: o.baseURL, timeoutMs: o.requestTimeoutMs });
    this.syntax = new PythonSyntaxChecker({ python: o.python, log: this.log });
    this.picker = new ModePicker(o.modes, o.metric);
  }

  async close(): Promise<void> {
    await this.syntax.close();
  }

  async propose(ctx: ProposalContext): Promise<Proposal | null> {
    const plan = this.picker.next(ctx.history());
    const brief = (await ctx.readFile(this.o.program)) ?? this.o.fallbackBrief;
    const system = systemPrompt({
      brief,
      rules: ctx.rules,
      stageParams: [...ctx.stageParams],
      instructions: this.o.instructions,
      maxAttempts: this.o.maxAttempts,
    });
    const texts = new Map<string, string>();
    for (const f of ctx.editable) {
      const t = await ctx.readFile(f);
      if (t !== undefined) texts.set(f, t);
    }
    const { inline, others } = inlineFiles(texts, this.o.inlineBytes);
    const messages: MessageParam[] = [
      {
        role: 'user',
        content: firstMessage({ plan, head: ctx.head, inline, others, journal: ctx.journal() }),
      },
    ];
    return this.converse(ctx, plan, system, messages);
  }

  private async converse(
    ctx: ProposalContext,
    plan: ModePlan,
    system: string,
    messages: MessageParam[],
  ): Promise<Proposal> {
    const { maxAttempts, maxTurns } = this.o;
    let refusals = 0;
    let last: { reason: Reason; message: string } | undefined;
    for (let turn = 0; turn < maxTurns; turn++) {
      if (!ctx.withinBudget())
        throw new ArswarmError(Code.ResourceExhausted, `${this.name}: budget spent during a conversation`, {
          reason: 'budget_exhausted',
        });
      const res = await this.request(ctx, system, messages);
      const content = res.content.map(toParam).filter((b): b is ContentBlockParam => !!b);
      messages.push({ role: 'assistant', content: content.length ? content : '(no content)' });
      if (res.stop_reason === 'refusal')
        throw new ArswarmError(Code.Aborted, `${this.name}: the model declined to propose`, {
          reason: 'model_refusal',
        });
      const uses = res.content.filter((b): b is ToolUseBlock => b.type === 'tool_use');
      if (uses.length === 0) {
        refusals++;
        last = { reason: 'no_candidate', message: 'the model answered without calling submit_candidate' };
        if (refusals >= maxAttempts) break;
        messages.push({
          role: 'user',
          content: 'Call submit_candidate now with one idea (title, hypothesis, edits).',
        });
        continue;
      }
      const results: ToolResultBlockParam[] = [];
      for (const u of uses) {
        const out = await this.tool(u, ctx, plan);
        if (out.proposal) return out.proposal;
        if (u.name === 'submit_candidate' && out.isError) {
          refusals++;
          last = { reason: out.reason ?? 'invalid_candidate', message: out.text };
        }
        results.push({ type: 'tool_result', tool_use_id: u.id, content: out.text, is_error: out.isError });
      }
      if (refusals >= maxAttempts) break;
      messages.push({ role: 'user', content: results });
    }
    if (last && refusals >= maxAttempts)
      throw new ArswarmError(
        Code.Aborted,
        `${refusals} submission${refusals === 1 ? '' : 's'} refused; last (${last.reason}): ${last.message}`,
        { reason: last.reason },
      );
    throw new ArswarmError(Code.Aborted, `no valid candidate within ${maxTurns} requests`, {
      reason: 'too_many_turns',
    });
  }

  private params(system: string, messages: MessageParam[]): MessageCreateParamsNonStreaming {
    const p: MessageCreateParamsNonStreaming = {
      model: this.o.model,
      max_tokens: this.o.maxTokens,
      system,
      messages,
      tools: TOOLS,
      tool_choice: { type: 'auto' },
      ...(this.o.effort ? { output_config: { effort: this.o.effort } } : {}),
    };
    // The SDK's types no longer carry sampling parameters; the body still passes them through.
    return this.o.temperature === undefined
      ? p
      : ({ ...p, temperature: this.o.temperature } as MessageCreateParamsNonStreaming);
  }

  /** One Messages API request, retried on 429/529/5xx, its tokens charged at once. */
  private async request(ctx: ProposalContext, system: string, messages: MessageParam[]): Promise<Message> {
    const res = await withRetry(
      () => this.client.messages.create(this.params(system, messages), { signal: ctx.signal }),
      {
        maxRetries: this.o.maxRetries,
        maxDelayMs: this.o.maxRetryWaitMs,
        baseDelayMs: this.o.retryBaseDelayMs,
        signal: ctx.signal,
        onRetry: ({ attempt, delayMs, error }) =>
          this.log(
            `${this.name}: ${error.reason ?? Code[error.code]} (${error.message}); retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s`,
          ),
      },
    );
    ctx.charge(usageOf(res, this.o.price, this.o.model));
    return res;
  }

  private async tool(u: ToolUseBlock, ctx: ProposalContext, plan: ModePlan): Promise<ToolOutcome> {
    const err = (reason: Reason, text: string): ToolOutcome => ({
      text: `Error (${reason}): ${text}`,
      isError: true,
      reason,
    });
    switch (u.name) {
      case 'read_file': {
        const p = readFileInput.safeParse(u.input);
        if (!p.success) return err('invalid_tool_input', `read_file input:\n${describeZodError(p.error)}`);
        const path = p.data.path.replace(/^\.\//, '');
        const text = ctx.files.includes(path) ? await ctx.readFile(path) : undefined;
        if (text === undefined)
          return err('not_found', `no file ${path} at the head; files: ${ctx.files.slice(0, 50).join(', ')}`);
        return {
          text:
            text.length > READ_LIMIT
              ? `${text.slice(0, READ_LIMIT)}\n[… truncated at ${READ_LIMIT} characters]`
              : text,
          isError: false,
        };
      }
      case 'read_journal':
        return { text: ctx.journal(), isError: false };
      case 'list_history': {
        const p = listHistoryInput.safeParse(u.input ?? {});
        if (!p.success) return err('invalid_tool_input', `list_history input:\n${describeZodError(p.error)}`);
        const { status, limit, diffs, ids } = p.data;
        const list = ctx
          .history()
          .reverse()
          .filter((e) => matchesFilter(status, e) && (!ids || ids.includes(e.id)))
          .slice(0, limit);
        if (!list.length) return { text: `no ideas with status ${status} yet`, isError: false };
        return {
          text: list
            .map((e) => `- ${entryLine(e)}${diffs ? `\n\`\`\`diff\n${e.diff.slice(0, 4000)}\n\`\`\`` : ''}`)
            .join('\n'),
          isError: false,
        };
      }
      case 'submit_candidate':
        return this.submit(u, ctx, plan);
      default:
        return err('unknown_tool', `no tool named ${u.name}`);
    }
  }

  private async submit(u: ToolUseBlock, ctx: ProposalContext, plan: ModePlan): Promise<ToolOutcome> {
    const p = submitCandidateInput.safeParse(u.input);
    if (!p.success)
      return {
        text: `Error (invalid_tool_input): submit_candidate input does not match its schema:\n${describeZodError(p.error)}`,
        isError: true,
        reason: 'invalid_tool_input',
      };
    const { title, hypothesis, edits } = p.data;
    try {
      const changes = await applyEdits(edits, ctx.rules, (path) => ctx.readFile(path));
      await this.syntax.check(changes);
      const diff = await ctx.check(changes, title);
      return {
        text: 'accepted',
        isError: false,
        proposal: { title, hypothesis: `${hypothesis}\n\n(mode: ${plan.mode})`, changes, diff },
      };
    } catch (e) {
      const a = ArswarmError.from(e);
      if (a.code === Code.Cancelled) throw a;
      if (!a.reason) throw a;
      return { text: `Error (${a.reason}): ${a.message}`, isError: true, reason: a.reason };
    }
  }
}
