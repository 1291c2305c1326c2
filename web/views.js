// @ts-check
// Rendering of the dashboard's sections. Everything from the server goes in as
// text nodes (titles and hypotheses may come from an LLM): no innerHTML with data.

/** @typedef {Node | string | false | null | undefined} Child */

/**
 * Builds an element: h('td', {class: 'x'}, 'text', child, ...).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [attrs] attributes; `on<event>` ones are listeners
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false || v === null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c);
  return el;
}

/** @param {string | number | undefined} v */
export const num = (v) => (v === undefined ? 0 : Number(v));
/** @param {string | number | undefined} v */
export const fmt = (v, d = 6) => (Number.isFinite(Number(v)) && v !== undefined ? Number(v).toFixed(d) : '–');
/** @param {string | undefined} e @param {string} prefix */
export const word = (e, prefix) =>
  String(e || '')
    .replace(prefix, '')
    .toLowerCase() || '–';
/** @param {string | number | undefined} d @param {string | number | undefined} s */
const pm = (d, s) => `${num(d) >= 0 ? '+' : ''}${num(d).toFixed(4)} ± ${num(s).toFixed(4)}`;

/** @param {string | number | undefined} seconds */
export function duration(seconds) {
  if (num(seconds) < 10) return `${num(seconds).toFixed(1)}s`;
  const s = Math.round(num(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** @param {string[]} headers @param {Child[]} rows @param {Record<string, unknown>} [attrs] */
function table(headers, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((x) => h('th', {}, x)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

/** The header's figures. */
/** @param {import('../gen/arswarm/v1/control_pb.js').GetStatusResponseJson} s */
export function statusFigures(s) {
  /** @param {string} label @param {string} value @param {Record<string, unknown>} [attrs] */
  const fig = (label, value, attrs = {}) =>
    h('div', { class: 'fig', ...attrs }, h('span', {}, label), h('b', {}, value));
  return [
    fig('head', `${(s.head || '').slice(0, 7)} on ${s.branch || '–'}`),
    fig(
      s.metric || 'metric',
      s.headMetric === undefined || s.headMetric === 'NaN' ? 'baseline' : fmt(s.headMetric),
    ),
    fig('trials', `${num(s.trialsFinished)} done · ${num(s.trialsQueued)} queued`),
    fig('throughput', `${num(s.resultsPerMinute).toFixed(1)}/min`),
    fig('candidates', `${num(s.candidates)} · ${num(s.inReview)} in review`),
    fig('merges', String(num(s.merges)), { 'data-testid': 'merges' }),
    fig('cost', `$${num(s.costUsd).toFixed(2)}`),
    stoppedFigure(s, fig),
    s.paused ? fig('swarm', 'paused', { class: 'fig paused' }) : fig('swarm', 'running'),
    s.proposersExhausted
      ? fig('proposers', 'exhausted', { class: 'fig paused', title: s.proposersExhausted })
      : null,
  ].filter((f) => f !== null);
}

/**
 * Trials stopped mid-slot and the GPU time that saved, over every stage (null when none).
 * @param {import('../gen/arswarm/v1/control_pb.js').GetStatusResponseJson} s
 * @param {(label: string, value: string, attrs?: Record<string, unknown>) => HTMLElement} fig
 */
function stoppedFigure(s, fig) {
  let stopped = 0;
  let saved = 0;
  for (const st of s.stages || []) {
    stopped += num(st.stopped);
    saved += num(st.stopSavedGpuSeconds);
  }
  return stopped ? fig('stopped mid-slot', `${stopped} · saved ${duration(saved)} GPU`) : null;
}

/** Work no live worker can run, and stages no live worker may run: one line each (empty when none). */
/** @param {import('../gen/arswarm/v1/control_pb.js').GetStatusResponseJson} s */
export function waitingNotes(s) {
  const lines = [];
  for (const st of s.stages || []) {
    const trials = num(st.waiting);
    const candidates = num(st.waitingCandidates);
    if (!trials && !candidates) continue;
    const parts = [
      trials ? `${trials} trial${trials === 1 ? '' : 's'}` : '',
      candidates ? `${candidates} candidate${candidates === 1 ? '' : 's'}` : '',
    ].filter(Boolean);
    lines.push(`${st.name}: ${parts.join(', ')} waiting for ${st.waitingFor}`);
  }
  for (const w of s.warnings || []) lines.push(`warning: ${w}`);
  if (s.proposersExhausted) lines.push(`proposers exhausted: ${s.proposersExhausted}`);
  return lines.map((l) => h('p', { class: 'warning', 'data-testid': 'waiting' }, l));
}

/** @param {import('../gen/arswarm/v1/trial_pb.js').WorkerHeartbeatJson[]} workers */
export function workersTable(workers) {
  if (!workers.length) return h('p', { class: 'muted' }, 'no live workers');
  return table(
    ['worker', 'class', 'state', 'trial', 'progress', 'done', 'idle'],
    workers.map((w) => {
      const pct = Math.round(num(w.progress) * 100);
      return h(
        'tr',
        {},
        h('td', {}, w.workerId),
        h('td', {}, `${w.gpuClass}${w.gpuMemoryMb ? ` · ${Math.round(num(w.gpuMemoryMb) / 1024)} GiB` : ''}`),
        h('td', {}, word(w.state, 'WORKER_STATE_')),
        h('td', { class: 'mono' }, w.currentTrialId || '–'),
        h(
          'td',
          {},
          w.currentTrialId
            ? h(
                'div',
                { class: 'bar', title: `${pct}%` },
                h('div', { style: `width:${pct}%` }),
                h('span', {}, `${pct}%`),
              )
            : '–',
        ),
        h('td', { class: 'num' }, String(num(w.trialsDone))),
        h('td', { class: 'num' }, duration(w.idleSeconds)),
      );
    }),
  );
}

/** @param {import('../gen/arswarm/v1/control_pb.js').StageEvidenceJson[]} evidence */
export function evidenceTable(evidence) {
  return table(
    ['stage', 'verdict', 'Δ ± σ', 'n', 'seeds', 'GPU', 'candidate', 'baseline', 'GPU time'],
    evidence.map((e) =>
      h(
        'tr',
        {},
        h('td', {}, e.stage),
        h('td', { class: `verdict ${word(e.kind, 'VERDICT_KIND_')}` }, word(e.kind, 'VERDICT_KIND_')),
        // A mid-slot stop has no full-slot metric: its look, with the reason on hover.
        e.stop
          ? h(
              'td',
              { class: 'num mono', title: e.stop.reason },
              `stopped at ${Math.round(num(e.stop.evidence?.look) * 100)}%`,
            )
          : h('td', { class: 'num mono' }, pm(e.delta, e.sigma)),
        h('td', { class: 'num' }, String(num(e.n))),
        h('td', { class: 'mono' }, (e.seeds || []).join(', ') || '–'),
        h('td', {}, e.gpuClass || '–'),
        h('td', { class: 'num mono' }, e.stop ? '–' : fmt(e.candidateMean)),
        h('td', { class: 'num mono' }, e.stop ? '–' : fmt(e.baselineMean)),
        h('td', { class: 'num' }, duration(e.gpuSeconds)),
      ),
    ),
    { class: 'evidence' },
  );
}

/** @param {string | undefined} diff */
export function diffView(diff) {
  return h(
    'pre',
    { class: 'diff' },
    (diff || '').split('\n').map((line) => {
      const cls =
        line.startsWith('+++') || line.startsWith('---')
          ? 'file'
          : line.startsWith('@@')
            ? 'hunk'
            : line.startsWith('+')
              ? 'add'
              : line.startsWith('-')
                ? 'del'
                : '';
      return h('span', { class: cls }, `${line}\n`);
    }),
  );
}

/** The audit's flags of a candidate: a "flagged: ..." badge with one reason line per flag, or null. */
/** @param {import('../gen/arswarm/v1/control_pb.js').CandidateSummaryJson | undefined} summary */
export function flagsView(summary) {
  const flags = summary?.flags || [];
  if (!flags.length) return null;
  const rules = [...new Set(flags.map((f) => f.rule))];
  return h(
    'div',
    { class: 'flags' },
    h('span', { class: 'badge flagged' }, `flagged: ${rules.join(', ')}`),
    h(
      'ul',
      {},
      flags.map((f) =>
        h(
          'li',
          {},
          `${word(f.source, 'AUDIT_SOURCE_')}${f.auditorModel ? ` ${f.auditorModel}` : ''} (${f.rule}): ${(f.reasons || []).join('; ')}`,
        ),
      ),
    ),
    h(
      'p',
      { class: 'warn' },
      'a flagged candidate merges only when a person approves it, whatever the merge policy',
    ),
  );
}

/**
 * One review card; `decide(id, approve, note)` returns a promise.
 * @param {import('../gen/arswarm/v1/control_pb.js').ReviewItemJson} item
 * @param {{ canDecide: boolean, decide: (id: string, approve: boolean, note: string) => Promise<import('./api.js').ReviewResponse> }} actions
 */
export function reviewCard(item, { canDecide, decide }) {
  // The server sets a review item's summary and its candidate always.
  const summary = /** @type {import('../gen/arswarm/v1/control_pb.js').CandidateSummaryJson} */ (
    item.summary
  );
  const c = /** @type {import('../gen/arswarm/v1/candidate_pb.js').CandidateJson} */ (summary.candidate);
  const note = h('input', {
    type: 'text',
    class: 'note',
    placeholder: 'note (recorded with the decision)',
    'aria-label': `note for ${c.id}`,
  });
  const msg = h('span', { class: 'msg' });
  /** @param {boolean} approve */
  const act = (approve) => async () => {
    for (const b of buttons) b.disabled = true;
    msg.textContent = approve ? 'approving…' : 'rejecting…';
    try {
      const r = await decide(c.id ?? '', approve, note.value);
      msg.textContent = r.mergedCommit
        ? `merged as ${r.mergedCommit.slice(0, 7)}`
        : approve
          ? 'approved: revalidating against the new head, it merges when it passes'
          : 'rejected';
    } catch (err) {
      msg.textContent = err instanceof Error ? err.message : String(err);
      for (const b of buttons) b.disabled = false;
    }
  };
  const buttons = [
    h('button', { class: 'approve', onclick: act(true), disabled: !canDecide || item.approved }, 'Approve'),
    h('button', { class: 'reject', onclick: act(false), disabled: !canDecide || item.approved }, 'Reject'),
  ];
  return h(
    'article',
    { class: 'card', 'data-candidate': c.id },
    h(
      'header',
      {},
      h('b', { class: 'mono' }, c.id),
      ' ',
      h('span', { class: 'title' }, c.title),
      h(
        'span',
        { class: 'muted' },
        ` · ${c.proposer}${num(item.costUsd) ? ` · $${num(item.costUsd).toFixed(4)}` : ''}`,
      ),
    ),
    c.hypothesis ? h('p', { class: 'hypothesis' }, c.hypothesis) : null,
    flagsView(item.summary),
    item.approved
      ? h('p', { class: 'warn' }, 'approved: waiting for its merge')
      : !item.onHead
        ? h(
            'p',
            { class: 'warn' },
            'the head moved since this evidence: approving revalidates it at the top stage first',
          )
        : null,
    evidenceTable(item.evidence || []),
    h('details', { open: true }, h('summary', {}, 'diff'), diffView(item.diff)),
    h(
      'div',
      { class: 'actions' },
      note,
      buttons,
      msg,
      canDecide ? null : h('span', { class: 'muted' }, ' (a reviewer token decides)'),
    ),
  );
}

/** The journal: every candidate, newest first, with its last verdict. */
/** @param {import('../gen/arswarm/v1/control_pb.js').CandidateSummaryJson[]} candidates */
export function journalTable(candidates) {
  if (!candidates.length) return h('p', { class: 'muted' }, 'no candidates yet');
  return table(
    ['id', 'state', 'stage', 'last verdict', 'proposer', 'title'],
    [...candidates].reverse().map((c) => {
      const v = (c.verdicts || []).at(-1);
      const state = word(c.state, 'CANDIDATE_STATE_');
      return h(
        'tr',
        { title: c.candidate?.hypothesis || '' },
        h('td', { class: 'mono' }, c.candidate?.id ?? ''),
        h(
          'td',
          {},
          h('span', { class: `badge ${state}` }, state),
          (c.flags || []).length ? h('span', { class: 'badge flagged' }, 'flagged') : null,
        ),
        h('td', {}, c.stage || '–'),
        h(
          'td',
          { class: 'mono' },
          !v
            ? '–'
            : v.kind === 'VERDICT_KIND_CRASHED'
              ? `${v.stage} crashed: ${v.reason || ''}`
              : `${v.stage} ${word(v.kind, 'VERDICT_KIND_')} ${pm(v.delta, v.sigma)}`,
        ),
        h('td', {}, c.candidate?.proposer ?? ''),
        h('td', {}, c.candidate?.title ?? ''),
      );
    }),
    { class: 'journal' },
  );
}
