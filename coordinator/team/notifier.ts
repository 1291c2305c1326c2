/**
 * Posts notices to webhooks: each webhook has its own queue, drained in
 * order in the background, each POST retried with exponential backoff
 * (bounded), a notice id sent once per webhook (repeats of the same fact are
 * dropped), and an optional HMAC-SHA256 signature of the body. The ledger
 * listener only queues, so a slow receiver never holds up the scheduler.
 */
import { createHmac } from 'node:crypto';
import { withDefaults } from '../../common/option-defaults.js';
import type { WebhookConfig } from '../../common/team-config.js';
import { payloadOf, type Notice } from './notices.js';
import { Permanent, retrying, RETRY_DEFAULTS } from './retry.js';

/** Header carrying `sha256=<hex HMAC-SHA256 of the body>` when the webhook has a secret. */
export const SIGNATURE_HEADER = 'x-arswarm-signature';
/** Header carrying the notice id (receivers drop repeats across coordinator restarts by it). */
export const DELIVERY_HEADER = 'x-arswarm-delivery';

/** One webhook, its secret read at the edge. */
export interface Webhook {
  config: WebhookConfig;
  secret?: string;
}

export interface NotifierOptions {
  webhooks: readonly Webhook[];
  log: (msg: string) => void;
  /** Attempts per notice and webhook. @default 5 */
  attempts?: number;
  /** First backoff; doubles per failure. @default 1000 */
  backoffMs?: number;
  /** Per-request timeout. @default 10000 */
  timeoutMs?: number;
}

/** Defaults of NotifierOptions: the retry loop's attempts and backoff, a 10 s request timeout. */
export const NOTIFIER_DEFAULTS = { ...RETRY_DEFAULTS, timeoutMs: 10_000 };

type ResolvedNotifierOptions = NotifierOptions & typeof NOTIFIER_DEFAULTS;

interface Queue {
  hook: Webhook;
  seen: Set<string>;
  todo: Notice[];
  running: boolean;
}

export class Notifier {
  private readonly queues: Queue[];
  /** Notices delivered and given up, for status and tests. */
  delivered = 0;
  failed = 0;

  private readonly o: ResolvedNotifierOptions;

  constructor(options: NotifierOptions) {
    const o = (this.o = { ...options, ...withDefaults(NOTIFIER_DEFAULTS, options) });
    this.queues = o.webhooks.map((hook) => ({ hook, seen: new Set(), todo: [], running: false }));
  }

  /** Queues a notice for every webhook that wants its kind; returns at once. */
  notify(n: Notice): void {
    for (const q of this.queues) {
      if (!q.hook.config.events.includes(n.kind) || q.seen.has(n.id)) continue;
      q.seen.add(n.id);
      q.todo.push(n);
      if (!q.running) void this.drain(q);
    }
  }

  /** Resolves when every queue is empty. */
  async idle(): Promise<void> {
    while (this.queues.some((q) => q.running)) await new Promise((r) => setTimeout(r, 50));
  }

  private async drain(q: Queue): Promise<void> {
    q.running = true;
    for (let n = q.todo.shift(); n; n = q.todo.shift()) {
      try {
        await this.post(q.hook, n);
        this.delivered++;
      } catch (err) {
        this.failed++;
        this.o.log(`webhook ${q.hook.config.url}: gave up on ${n.id}: ${(err as Error).message}`);
      }
    }
    q.running = false;
  }

  private async post(hook: Webhook, n: Notice): Promise<void> {
    const body = JSON.stringify(payloadOf(n, hook.config.format));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'arswarm',
      'x-arswarm-event': n.kind,
      [DELIVERY_HEADER]: n.id,
    };
    if (hook.secret) headers[SIGNATURE_HEADER] = `sha256=${sign(hook.secret, body)}`;
    await retrying(
      async () => {
        const res = await fetch(hook.config.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        const msg = `answered ${res.status}`;
        // A 4xx other than 408/429 is the receiver refusing this notice: another try gets the same.
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
          throw new Permanent(msg);
        throw new Error(msg);
      },
      {
        attempts: this.o.attempts,
        backoffMs: this.o.backoffMs,
        onFailure: (err, i, max) =>
          this.o.log(
            `webhook ${hook.config.url}: ${n.id} failed (attempt ${i}/${max}): ${(err as Error).message}`,
          ),
      },
    );
  }
}

/** The hex HMAC-SHA256 of a body, as receivers recompute it. */
export function sign(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}
