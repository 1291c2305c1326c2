// @ts-check
// The dashboard's client for the coordinator's JSON gateway: `POST /api/<Method>`
// with protobuf-JSON bodies, and WatchEvents as server-sent events read through
// fetch (so the bearer token travels in a header, never in a URL).

/** @typedef {import('../gen/arswarm/v1/control_pb.js').GetStatusResponseJson} GetStatusResponse */
/** @typedef {import('../gen/arswarm/v1/control_pb.js').GetProgressResponseJson} GetProgressResponse */
/** @typedef {import('../gen/arswarm/v1/control_pb.js').ListCandidatesResponseJson} ListCandidatesResponse */
/** @typedef {import('../gen/arswarm/v1/control_pb.js').ListReviewResponseJson} ListReviewResponse */
/** @typedef {import('../gen/arswarm/v1/control_pb.js').ReviewResponseJson} ReviewResponse */
/** @typedef {import('../gen/arswarm/v1/control_pb.js').SetWorkersResponseJson} SetWorkersResponse */
/** @typedef {import('../gen/arswarm/v1/control_pb.js').PauseResponseJson} PauseResponse */
/** @typedef {import('../gen/arswarm/v1/control_pb.js').WhoAmIResponseJson} WhoAmIResponse */
/** @typedef {import('../gen/arswarm/v1/event_pb.js').EventJson} Event */

/**
 * The protobuf-JSON response of each unary method the dashboard calls.
 * @typedef {{
 *   GetStatus: GetStatusResponse,
 *   GetProgress: GetProgressResponse,
 *   ListCandidates: ListCandidatesResponse,
 *   ListReview: ListReviewResponse,
 *   Approve: ReviewResponse,
 *   Reject: ReviewResponse,
 *   SetWorkers: SetWorkersResponse,
 *   Pause: PauseResponse,
 *   Resume: PauseResponse,
 *   WhoAmI: WhoAmIResponse,
 * }} Responses
 */

const TOKEN_KEY = 'arswarm.token';

/** The token: from a `#token=` link once (then removed from the address bar), else localStorage. */
export function initialToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (m) {
    window.localStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return window.localStorage.getItem(TOKEN_KEY) || '';
}

/** @param {string} token */
export function saveToken(token) {
  if (token) window.localStorage.setItem(TOKEN_KEY, token);
  else window.localStorage.removeItem(TOKEN_KEY);
}

/** An error from the gateway: `code` is the gRPC-aligned name (Unauthenticated, NotFound, ...). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{ message?: string, code?: string, reason?: string, field?: string, hint?: string }} body
   */
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || 'Unknown';
    this.reason = body.reason;
    this.field = body.field;
    // Kept apart from the message, as the gateway sends it (common/error-wire.ts).
    this.hint = body.hint;
  }
}

export class Api {
  /** @param {string} token */
  constructor(token) {
    this.token = token;
  }

  /** @param {Record<string, string>} [extra] @returns {Record<string, string>} */
  headers(extra = {}) {
    return this.token ? { ...extra, authorization: `Bearer ${this.token}` } : extra;
  }

  /**
   * Calls one unary method; resolves to its protobuf-JSON response.
   * @template {keyof Responses} M
   * @param {M} method
   * @param {Record<string, unknown>} [body]
   * @returns {Promise<Responses[M]>}
   */
  async call(method, body = {}) {
    const res = await fetch(`/api/${method}`, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  /**
   * Follows the ledger: calls onEvent(event) for every event after `fromSeq`,
   * reconnecting with back-off; onState('live' | 'reconnecting' | 'denied').
   * Returns a function that stops it.
   * @param {number} fromSeq
   * @param {(ev: Event) => void} onEvent
   * @param {(s: 'live' | 'reconnecting' | 'denied') => void} onState
   * @returns {() => void}
   */
  follow(fromSeq, onEvent, onState) {
    const ac = new window.AbortController();
    let last = fromSeq;
    let delay = 500;
    const run = async () => {
      while (!ac.signal.aborted) {
        try {
          const res = await fetch(`/api/events?from_seq=${last + 1}`, {
            headers: this.headers({ accept: 'text/event-stream' }),
            signal: ac.signal,
          });
          if (res.status === 401 || res.status === 403) return onState('denied');
          if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
          onState('live');
          delay = 500;
          for await (const msg of sseMessages(res.body)) {
            if (msg.event !== 'event') continue;
            /** @type {Event} */
            const ev = JSON.parse(msg.data);
            last = Math.max(last, Number(ev.seq || 0));
            onEvent(ev);
          }
        } catch (err) {
          if (ac.signal.aborted) return;
          void err;
        }
        onState('reconnecting');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    };
    void run();
    return () => ac.abort();
  }
}

/**
 * Parses a text/event-stream body into {event, data, id} messages.
 * @param {ReadableStream<BufferSource>} body
 */
async function* sseMessages(body) {
  const reader = body.pipeThrough(new window.TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const msg = { event: 'message', data: '', id: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const k = line.indexOf(':');
        const field = k < 0 ? line : line.slice(0, k);
        const val = k < 0 ? '' : line.slice(k + 1).replace(/^ /, '');
        if (field === 'data') msg.data += (msg.data ? '\n' : '') + val;
        else if (field === 'event') msg.event = val;
        else if (field === 'id') msg.id = val;
      }
      if (msg.data) yield msg;
    }
  }
}
