/**
 * A local server that speaks the Messages API (POST /v1/messages) the way
 * the real SDK expects — tool_use blocks, usage, stop_reason, error bodies,
 * retry-after — and answers scripted conversations. Tests and benchmarks
 * point the real @anthropic-ai/sdk at it with `baseURL`; nothing talks to the
 * internet. Also runnable for an offline demo:
 *
 *   node bin/run-ts.js test/support/messages-api-server.ts --port 8787 --delay-ms 500
 *   ANTHROPIC_BASE_URL=http://127.0.0.1:8787 ANTHROPIC_API_KEY=offline arswarm up --config <a config with a claude proposer>
 *
 * Conversations: a request with one message starts a new conversation, which
 * takes the next scripted scenario (or the fallback). Follow-up requests are
 * matched to their conversation by the ids of the tool_use blocks this server
 * wrote. One-off replies in the script (429, 529, 500) answer the next
 * request, whatever its conversation.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

/** A content block the server writes. */
export type Block =
  { type: 'text'; text: string } | { type: 'tool_use'; name: string; input: unknown; id?: string };

/** What a scenario answers for one turn. */
export interface AssistantTurn {
  content: Block[];
  /** @default 'tool_use' when there is a tool_use block, else 'end_turn' */
  stop_reason?: string;
  /** Extra delay of this reply, ms. */
  delayMs?: number;
}

/** A raw reply (errors). */
export interface RawReply {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
  delayMs?: number;
}

export interface TurnInput {
  /** 0 for the first request of the conversation. */
  turn: number;
  conversation: number;
  /** Text of the conversation's first user message. */
  firstUserText: string;
  /** Tool results the model got in the latest user message. */
  toolResults: { content: string; isError: boolean }[];
  body: MessagesRequest;
}

export type Scenario = ((t: TurnInput) => AssistantTurn | RawReply) & { scenarioName?: string };

export type Step = { conversation: Scenario } | { reply: RawReply };

interface MessageIn {
  role: 'user' | 'assistant';
  content: string | { type: string; text?: string; id?: string; content?: unknown; is_error?: boolean }[];
}

export interface MessagesRequest {
  model: string;
  max_tokens: number;
  system?: string;
  messages: MessageIn[];
  tools?: { name: string }[];
  [k: string]: unknown;
}

export interface RecordedRequest {
  at: number;
  conversation: number;
  turn: number;
  scenario: string;
  status: number;
  inputTokens: number;
  outputTokens: number;
  authorized: boolean;
  body: MessagesRequest;
  /** Tool results the request carried back to the model. */
  toolResults: { content: string; isError: boolean }[];
}

export interface MessagesApiServerOptions {
  script?: Step[];
  /** Scenario once the script's conversations are used up. @default holds the request until the server closes */
  fallback?: Scenario;
  /** Delay of every reply, ms. @default 0 */
  delayMs?: number;
  /** The key requests must carry (x-api-key or Authorization: Bearer). @default any non-empty key */
  apiKey?: string;
  /** @default 0 (a free port) */
  port?: number;
}

export interface MessagesApiServer {
  url: string;
  requests: RecordedRequest[];
  /** Tokens billed in successful replies. */
  billed: { inputTokens: number; outputTokens: number };
  /** Appends steps to the script. */
  enqueue(...steps: Step[]): void;
  close(): Promise<void>;
}

const named = (name: string, f: (t: TurnInput) => AssistantTurn | RawReply): Scenario =>
  Object.assign(f, { scenarioName: name });

const submit = (input: unknown): AssistantTurn => ({
  content: [
    { type: 'text', text: 'Here is my candidate.' },
    { type: 'tool_use', name: 'submit_candidate', input },
  ],
});

/** One edit as submit_candidate takes it. */
export interface EditIn {
  file: string;
  search: string;
  replace: string;
}

/** Scripted conversations and replies. */
export const scenarios = {
  /** Reads the file first (a tool round trip), then submits a valid candidate. */
  good(
    edit: EditIn,
    title = 'raise LEARNING_RATE to 0.002',
    hypothesis = 'A higher rate converges further in the budget.',
  ): Scenario {
    return named('good', (t) =>
      t.turn === 0
        ? { content: [{ type: 'tool_use', name: 'read_file', input: { path: edit.file } }] }
        : submit({ title, hypothesis, edits: [edit] }),
    );
  },
  /** Submits the same input on every turn (malformed cases). */
  always(name: string, input: unknown): Scenario {
    return named(name, () => submit(input));
  },
  /** Tool input that is not an object: truncated JSON, as a model cut off mid-call would send. */
  malformedJson(): Scenario {
    return scenarios.always(
      'malformed_json',
      '{"title": "raise LR", "hypothesis": "faster", "edits": [{"file": "train.py", "search": ',
    );
  },
  lockedFile(file = 'prepare.py'): Scenario {
    return scenarios.always('locked_file', {
      title: 'change the evaluation',
      hypothesis: 'Scoring differently lowers the metric.',
      edits: [{ file, search: 'import', replace: 'import os  # changed\nimport' }],
    });
  },
  searchMiss(): Scenario {
    return scenarios.always('search_miss', {
      title: 'set a constant that is not there',
      hypothesis: 'A line that does not exist cannot be replaced.',
      edits: [{ file: 'train.py', search: 'THIS_LINE = "does not exist"', replace: 'X = 1' }],
    });
  },
  oversized(search: string, bytes = 200_000): Scenario {
    const pad = Array.from(
      { length: Math.ceil(bytes / 40) },
      (_, i) => `# padding line ${i} ........................`,
    ).join('\n');
    return scenarios.always('oversized', {
      title: 'add a very large comment block',
      hypothesis: 'Large patches are refused before they cost a slot.',
      edits: [{ file: 'train.py', search, replace: `${search}\n${pad}` }],
    });
  },
  syntaxError(search: string): Scenario {
    return scenarios.always('syntax_error', {
      title: 'break the syntax',
      hypothesis: 'An unclosed bracket does not compile.',
      edits: [{ file: 'train.py', search, replace: `${search.replace(/=\s*/, '= (')}` }],
    });
  },
  /** Answers with text only, never calling a tool. */
  textOnly(): Scenario {
    return named('text_only', () => ({
      content: [{ type: 'text', text: 'I would rather not propose anything.' }],
    }));
  },
  /**
   * Endless distinct small changes: scales one real-valued UPPER_CASE constant
   * of the first inlined file by a factor unique to the conversation. Reads
   * the current values from the first message, so it follows the head.
   */
  tweak(skip: readonly string[] = ['SEED']): Scenario {
    return named('tweak', (t) => {
      const m = /<file path="([^"]+)">\n([\s\S]*?)\n<\/file>/.exec(t.firstUserText);
      if (!m) return { content: [{ type: 'text', text: 'no file to tweak' }] };
      const [, file, text] = m;
      const consts = [...text!.matchAll(/^([A-Z][A-Z0-9_]*) = (\d+\.\d*(?:[eE][-+]?\d+)?)\b/gm)].filter(
        (c) => !skip.includes(c[1]!) && Number(c[2]) !== 0,
      );
      if (!consts.length) return { content: [{ type: 'text', text: 'nothing to tweak' }] };
      const k = t.conversation;
      const c = consts[k % consts.length]!;
      const factor = 1 + 0.002 * (Math.floor(k / consts.length) + 1);
      const value = Number((k % 2 ? Number(c[2]) * factor : Number(c[2]) / factor).toPrecision(6));
      const line = `${c[1]} = ${c[2]}`;
      const next = `${c[1]} = ${String(value).includes('.') || /e/.test(String(value)) ? value : `${value}.0`}`;
      return submit({
        title: `set ${c[1]} to ${value} (#${k})`,
        hypothesis: `${c[1]} may be slightly off its optimum; a ${((factor - 1) * 100).toFixed(1)}% step tests it.`,
        edits: [{ file, search: line, replace: next }],
      });
    });
  },
  /** Delays every turn of a scenario. */
  slow(ms: number, s: Scenario): Scenario {
    return named(`slow_${s.scenarioName ?? 'scenario'}`, (t) => ({ ...s(t), delayMs: ms }));
  },
};

/** One-off error replies. */
export const replies = {
  rateLimited(retryAfterSeconds = 1): RawReply {
    return {
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds) },
      body: {
        type: 'error',
        error: { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit' },
      },
    };
  },
  overloaded(): RawReply {
    return {
      status: 529,
      body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    };
  },
  serverError(): RawReply {
    return {
      status: 500,
      body: { type: 'error', error: { type: 'api_error', message: 'Internal server error' } },
    };
  },
};

const isRaw = (r: AssistantTurn | RawReply): r is RawReply => 'status' in r;
const tokens = (x: unknown) => Math.ceil(JSON.stringify(x).length / 4);

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function text(m: MessageIn | undefined): string {
  if (!m) return '';
  return typeof m.content === 'string' ? m.content : m.content.map((b) => b.text ?? '').join('\n');
}

/** Starts the server on 127.0.0.1. */
export async function startMessagesApiServer(o: MessagesApiServerOptions = {}): Promise<MessagesApiServer> {
  const script: Step[] = [...(o.script ?? [])];
  const requests: RecordedRequest[] = [];
  const billed = { inputTokens: 0, outputTokens: 0 };
  const conversations = new Map<number, Scenario>();
  const held = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  let nextConversation = 0;
  let nextMessage = 0;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, {
      'content-type': 'application/json',
      'request-id': `req_${nextMessage}`,
      ...headers,
    });
    res.end(JSON.stringify(body));
  };
  const later = (ms: number, fn: () => void) => {
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages'))
      return send(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
    const key = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '');
    const authorized =
      typeof key === 'string' && key.length > 0 && (o.apiKey === undefined || key === o.apiKey);
    let body: MessagesRequest;
    try {
      body = JSON.parse(await readBody(req)) as MessagesRequest;
    } catch {
      return send(res, 400, {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'body is not JSON' },
      });
    }
    const last = body.messages.at(-1);
    const toolResults =
      last && typeof last.content !== 'string'
        ? last.content
            .filter((b) => b.type === 'tool_result')
            .map((b) => ({
              content: typeof b.content === 'string' ? b.content : JSON.stringify(b.content),
              isError: !!b.is_error,
            }))
        : [];
    const turn = body.messages.filter((m) => m.role === 'assistant').length;
    let conversation = -1;
    const firstAssistant = body.messages.find((m) => m.role === 'assistant');
    if (firstAssistant && typeof firstAssistant.content !== 'string')
      for (const b of firstAssistant.content) {
        const id = /^toolu_c(\d+)_/.exec(b.id ?? '') ?? /\[conversation (\d+)\]/.exec(b.text ?? '');
        if (id) conversation = Number(id[1]);
      }
    const record = (status: number, inputTokens = 0, outputTokens = 0, scenario = '') =>
      requests.push({
        at: Date.now(),
        conversation,
        turn,
        scenario,
        status,
        inputTokens,
        outputTokens,
        authorized,
        body,
        toolResults,
      });
    if (!authorized) {
      record(401);
      return send(res, 401, {
        type: 'error',
        error: { type: 'authentication_error', message: 'invalid x-api-key' },
      });
    }
    const head = script[0];
    if (head && 'reply' in head) {
      script.shift();
      record(head.reply.status);
      return later(head.reply.delayMs ?? o.delayMs ?? 0, () =>
        send(res, head.reply.status, head.reply.body, head.reply.headers),
      );
    }
    let scenario = conversations.get(conversation);
    if (!scenario) {
      conversation = nextConversation++;
      const step = script[0] && 'conversation' in script[0] ? script.shift() : undefined;
      scenario = step && 'conversation' in step ? step.conversation : o.fallback;
      if (!scenario) {
        // Nothing scripted: hold the request until the server closes (a model that never answers).
        record(0);
        held.add(res);
        return;
      }
      conversations.set(conversation, scenario);
    }
    const out = scenario({ turn, conversation, firstUserText: text(body.messages[0]), toolResults, body });
    if (isRaw(out)) {
      record(out.status, 0, 0, scenario.scenarioName);
      return later(out.delayMs ?? o.delayMs ?? 0, () => send(res, out.status, out.body, out.headers));
    }
    const content = out.content.map((b, i) =>
      b.type === 'tool_use'
        ? {
            type: 'tool_use',
            id: b.id ?? `toolu_c${conversation}_t${turn}_${i}`,
            name: b.name,
            input: b.input,
          }
        : { type: 'text', text: i === 0 ? `${b.text} [conversation ${conversation}]` : b.text },
    );
    const inputTokens = tokens(body);
    const outputTokens = tokens(content);
    const message = {
      id: `msg_${String(++nextMessage).padStart(6, '0')}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason: out.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn'),
      stop_sequence: null,
      stop_details: null,
      container: null,
      diagnostics: null,
      usage: {
        input_tokens: inputTokens,
        output_tokens: outputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation: null,
        inference_geo: null,
        output_tokens_details: null,
        server_tool_use: null,
        service_tier: 'standard',
      },
    };
    record(200, inputTokens, outputTokens, scenario.scenarioName);
    let gone = false;
    res.on('close', () => (gone ||= !res.writableEnded));
    later((o.delayMs ?? 0) + (out.delayMs ?? 0), () => {
      // A client that gave up (aborted) is not billed.
      if (gone || res.destroyed) return;
      billed.inputTokens += inputTokens;
      billed.outputTokens += outputTokens;
      send(res, 200, message);
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) =>
      send(res, 500, { type: 'error', error: { type: 'api_error', message: String(err) } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    billed,
    enqueue: (...steps) => void script.push(...steps),
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Offline demo: serve endless `tweak` conversations until interrupted.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string, def: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
  };
  const s = await startMessagesApiServer({
    port: Number(arg('port', '8787')),
    delayMs: Number(arg('delay-ms', '500')),
    fallback: scenarios.tweak(arg('skip', 'SEED,DEPTH').split(',')),
  });
  process.stdout.write(`${s.url}\n`);
  process.once('SIGINT', () => void s.close().then(() => process.exit(0)));
  process.once('SIGTERM', () => void s.close().then(() => process.exit(0)));
}
