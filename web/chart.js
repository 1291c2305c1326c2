// @ts-check
// The progress chart, in the spirit of autoresearch's progress.png: per stage,
// every finished trial a dot (x = order of finishing, y = metric) and the running
// best of kept changes a step line. Plain SVG, no library.

const W = 460;
const H = 260;
const PAD = { l: 72, r: 10, t: 16, b: 32 };

export const COLORS = {
  kept: '#2e9d4f',
  discarded: '#aab1bc',
  crashed: '#d64545',
  inflight: '#e08a00',
  baseline: '#4a7bd0',
  step: '#2e9d4f',
};

/** @type {Record<string, string>} */
const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** @param {unknown} s */
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);

/** @param {string | number | undefined} v */
const num = (v) => (v === undefined ? NaN : Number(v));

/** The color class of one point. */
/** @param {import('../gen/arswarm/v1/control_pb.js').ProgressPointJson} p */
export function pointClass(p) {
  if (p.status && p.status !== 'TRIAL_STATUS_OK') return 'crashed';
  if (p.kind === 'TRIAL_KIND_BASELINE') return 'baseline';
  switch (p.candidateState) {
    case 'CANDIDATE_STATE_MERGED':
      return 'kept';
    case 'CANDIDATE_STATE_ACTIVE':
    case 'CANDIDATE_STATE_REVIEW':
      return 'inflight';
    default:
      return 'discarded';
  }
}

/** @param {number[]} sorted @param {number} q */
function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  return sorted[lo] + (sorted[Math.ceil(i)] - sorted[lo]) * (i - lo);
}

/** Tick values for a range, about `n` of them, at round steps. @param {number} lo @param {number} hi */
function ticks(lo, hi, n = 4) {
  const span = hi - lo || 1;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(v);
  return { values: out, digits: Math.max(0, -Math.floor(Math.log10(step))) };
}

/** SVG markup for one stage. */
/**
 * @param {import('../gen/arswarm/v1/control_pb.js').StageProgressJson} stage
 * @param {{ metric: string, lowerIsBetter: boolean }} meta
 */
export function stageChart(stage, { metric, lowerIsBetter }) {
  const points = (stage.points || []).map((p) => ({ ...p, x: num(p.x ?? 0), metric: num(p.metric) }));
  const steps = (stage.best || []).map((s) => ({ ...s, x: num(s.x ?? 0), metric: num(s.metric) }));
  const ok = points.filter((p) => Number.isFinite(p.metric)).map((p) => p.metric);
  const all = [...ok, ...steps.map((s) => s.metric)].filter(Number.isFinite).sort((a, b) => a - b);
  if (!all.length)
    return `<svg viewBox="0 0 ${W} ${H}" class="chart" role="img" aria-label="${esc(stage.stage)}: no results yet"><text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="empty">no results yet</text></svg>`;
  // The worst tail (diverged runs) would flatten everything else: clip it to the edge.
  const q = lowerIsBetter ? quantile(all, 0.95) : quantile(all, 0.05);
  let lo = lowerIsBetter ? all[0] : q;
  let hi = lowerIsBetter ? q : all[all.length - 1];
  for (const s of steps) {
    if (!Number.isFinite(s.metric)) continue;
    lo = Math.min(lo, s.metric);
    hi = Math.max(hi, s.metric);
  }
  const padY = (hi - lo || Math.abs(hi) * 0.01 || 1) * 0.08;
  lo -= padY;
  hi += padY;
  const n = Math.max(points.length, 2);
  /** @param {number} x */
  const sx = (x) => PAD.l + (x / (n - 1)) * (W - PAD.l - PAD.r);
  /** @param {number} y */
  const sy = (y) => PAD.t + (1 - (Math.min(Math.max(y, lo), hi) - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  const parts = [];
  const t = ticks(lo, hi);
  for (const v of t.values)
    parts.push(
      `<line class="grid" x1="${PAD.l}" x2="${W - PAD.r}" y1="${sy(v)}" y2="${sy(v)}"/>`,
      `<text class="tick" x="${PAD.l - 6}" y="${sy(v) + 4}" text-anchor="end">${v.toFixed(t.digits)}</text>`,
    );
  parts.push(
    `<line class="axis" x1="${PAD.l}" x2="${W - PAD.r}" y1="${H - PAD.b}" y2="${H - PAD.b}"/>`,
    `<text class="tick" x="${PAD.l}" y="${H - 10}">0</text>`,
    `<text class="tick" x="${W - PAD.r}" y="${H - 10}" text-anchor="end">${points.length} trials</text>`,
    `<text class="label" x="16" y="${(H - PAD.b) / 2}" transform="rotate(-90 16 ${(H - PAD.b) / 2})" text-anchor="middle">${esc(metric)}${lowerIsBetter ? ' ↓' : ' ↑'}</text>`,
  );
  const order = { discarded: 0, baseline: 1, crashed: 2, inflight: 3, kept: 4 };
  for (const p of [...points].sort((a, b) => order[pointClass(a)] - order[pointClass(b)])) {
    const cls = pointClass(p);
    const tip = `${p.candidateId || 'baseline'} · ${p.trialId}\n${Number.isFinite(p.metric) ? p.metric.toFixed(6) : (p.status ?? '').replace('TRIAL_STATUS_', '').toLowerCase()}`;
    if (cls === 'crashed') {
      const x = sx(p.x),
        y = PAD.t + 4;
      parts.push(
        `<path class="pt crashed" d="M${x - 4} ${y - 4}L${x + 4} ${y + 4}M${x + 4} ${y - 4}L${x - 4} ${y + 4}"><title>${esc(tip)}</title></path>`,
      );
    } else {
      const r = cls === 'kept' ? 6 : cls === 'baseline' ? 3.5 : 4.5;
      parts.push(
        `<circle class="pt ${cls}" cx="${sx(p.x).toFixed(1)}" cy="${sy(p.metric).toFixed(1)}" r="${r}"><title>${esc(tip)}</title></circle>`,
      );
    }
  }
  if (steps.length) {
    let d = `M${sx(steps[0].x)} ${sy(steps[0].metric)}`;
    for (const s of steps.slice(1)) d += `H${sx(s.x)}V${sy(s.metric)}`;
    d += `H${sx(n - 1)}`;
    parts.push(`<path class="step" d="${d}"/>`);
    for (const s of steps.slice(1))
      parts.push(
        `<text class="steplabel" x="${sx(s.x) + 4}" y="${sy(s.metric) - 7}">${esc(s.candidateId)}</text>`,
      );
  }
  return `<svg viewBox="0 0 ${W} ${H}" class="chart" role="img" aria-label="${esc(stage.stage)} progress">${parts.join('')}</svg>`;
}
