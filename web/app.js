// @ts-check
// The arswarm dashboard: status, progress chart, workers, review queue and
// journal, refreshed from the coordinator's event stream.
import { Api, ApiError, initialToken, saveToken } from './api.js';
import { COLORS, stageChart } from './chart.js';
import { h, journalTable, num, reviewCard, statusFigures, waitingNotes, workersTable } from './views.js';

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
};
const ROLES = ['viewer', 'reviewer', 'admin'];
const JOURNAL_ROWS = 500;
/** @param {string} role @param {string} needed */
const can = (role, needed) => ROLES.indexOf(role) >= ROLES.indexOf(needed);

const state = {
  api: new Api(initialToken()),
  role: '',
  /** @type {(() => void) | undefined} */
  stop: undefined,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  timer: undefined,
  busy: false,
  again: false,
  /** The review queue last loaded, re-rendered at once when the role changes. */
  /** @type {import('./api.js').ListReviewResponse | undefined} */
  review: undefined,
};

/** @param {HTMLElement} el @param {Node | string | (Node | string)[]} content */
function show(el, content) {
  el.replaceChildren(...[content].flat());
}

/** @param {'live' | 'reconnecting' | 'denied' | 'off'} s */
function setLive(s) {
  const el = $('live');
  el.className = `live ${s}`;
  el.textContent =
    { live: 'live', reconnecting: 'reconnecting…', denied: 'signed out', off: 'offline' }[s] ?? s;
}

/** @param {string} [text] */
function banner(text) {
  const el = $('banner');
  el.hidden = !text;
  el.textContent = text || '';
}

async function refresh() {
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  try {
    const api = state.api;
    const [status, progress, review] = await Promise.all([
      api.call('GetStatus'),
      api.call('GetProgress'),
      api.call('ListReview'),
    ]);
    // The journal shows the newest candidates: page tokens are offsets, oldest first.
    const skip = Math.max(0, num(status.candidates) - JOURNAL_ROWS);
    const list = await api.call('ListCandidates', {
      pageSize: JOURNAL_ROWS,
      pageToken: skip ? String(skip) : '',
    });
    banner('');
    show($('figures'), statusFigures(status));
    show($('waiting'), waitingNotes(status));
    const meta = { metric: progress.metric ?? '', lowerIsBetter: !!progress.lowerIsBetter };
    show(
      $('charts'),
      (progress.stages || []).map((s) => {
        const fig = h('figure', { class: 'panel', 'data-stage': s.stage });
        fig.innerHTML = stageChart(s, meta); // markup built by stageChart, every text escaped there
        fig.prepend(h('figcaption', {}, `${s.stage} · ${(s.points || []).length} trials`));
        return fig;
      }),
    );
    show($('workers'), workersTable(status.workers || []));
    $('worker-count').textContent = String((status.workers || []).length);
    state.review = review;
    renderReview();
    show($('journal'), journalTable(list.candidates || []));
    renderAdmin(status);
  } catch (err) {
    if (err instanceof ApiError && (err.code === 'Unauthenticated' || err.code === 'PermissionDenied'))
      banner(`${err.message}: enter a token above`);
    else banner(`cannot load: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    state.busy = false;
    if (state.again) {
      state.again = false;
      schedule();
    }
  }
}

/** The review cards, their buttons as the current role allows. */
function renderReview() {
  const review = state.review;
  if (!review) return; // not loaded yet
  const items = review.items || [];
  $('review-count').textContent = String(items.length);
  show(
    $('review'),
    items.length
      ? items.map((item) => reviewCard(item, { canDecide: can(state.role, 'reviewer'), decide }))
      : h(
          'p',
          { class: 'muted' },
          `nothing waits for review (merge policy: ${review.mergePolicy || 'review'})`,
        ),
  );
}

/** Coalesces bursts of events into one refresh. */
function schedule(ms = 400) {
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, ms);
}

/** @param {string} id @param {boolean} approve @param {string} note */
async function decide(id, approve, note) {
  const r = await state.api.call(approve ? 'Approve' : 'Reject', { id, note });
  schedule(0);
  return r;
}

/** @param {import('./api.js').GetStatusResponse} status */
function renderAdmin(status) {
  const el = $('admin');
  if (!can(state.role, 'admin')) return show(el, []);
  const replicas = h('input', {
    type: 'number',
    min: 0,
    value: (status.pools?.[0]?.desired ?? status.workers?.length ?? 0).toString(),
    'aria-label': 'workers',
  });
  /** @param {() => Promise<unknown>} fn */
  const act = (fn) => async () => {
    try {
      await fn();
      schedule(0);
    } catch (err) {
      banner(err instanceof Error ? err.message : String(err));
    }
  };
  show(el, [
    status.paused
      ? h('button', { onclick: act(() => state.api.call('Resume')) }, 'Resume')
      : h(
          'button',
          { onclick: act(() => state.api.call('Pause', { reason: 'from the dashboard' })) },
          'Pause',
        ),
    replicas,
    h(
      'button',
      { onclick: act(() => state.api.call('SetWorkers', { replicas: num(replicas.value) })) },
      'Scale',
    ),
  ]);
}

async function connect() {
  state.stop?.();
  setLive('off');
  try {
    const me = await state.api.call('WhoAmI');
    // protobuf JSON omits empty fields: a token without a name or role has neither key.
    state.role = me.role ?? '';
    // The cards on the page were drawn for the previous token: their buttons follow the new role now.
    renderReview();
    $('whoami').textContent = `${me.name ?? ''} · ${me.role ?? ''}`;
  } catch (err) {
    state.role = '';
    renderReview();
    $('whoami').textContent = '';
    banner(
      err instanceof ApiError && err.code === 'Unauthenticated'
        ? 'enter a token to see the swarm'
        : `cannot reach the coordinator: ${err instanceof Error ? err.message : String(err)}`,
    );
    setLive('denied');
    return;
  }
  await refresh();
  /** @type {import('./api.js').GetStatusResponse} */
  const status = await state.api.call('GetStatus').catch(() => ({}));
  state.stop = state.api.follow(
    num(status.ledgerEvents),
    () => schedule(),
    (s) => {
      setLive(s);
      if (s === 'live') schedule(0);
    },
  );
}

function legend() {
  /** @param {keyof typeof COLORS} cls @param {string} label */
  const item = (cls, label) =>
    h('span', { class: 'key' }, h('i', { style: `background:${COLORS[cls]}` }), label);
  return [
    item('kept', 'kept (merged)'),
    item('inflight', 'in flight / review'),
    item('discarded', 'discarded'),
    item('baseline', 'baseline'),
    item('crashed', 'crashed (×)'),
    h('span', { class: 'key' }, h('i', { class: 'line' }), 'running best of kept changes'),
  ];
}

function init() {
  const input = /** @type {HTMLInputElement} */ ($('token'));
  input.value = state.api.token;
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    saveToken(input.value.trim());
    state.api = new Api(input.value.trim());
    void connect();
  });
  // A `#token=` link opened in a tab that already shows the dashboard.
  window.addEventListener('hashchange', () => {
    const token = initialToken();
    if (token === state.api.token) return;
    input.value = token;
    state.api = new Api(token);
    void connect();
  });
  show($('legend'), legend());
  void connect();
}

init();
