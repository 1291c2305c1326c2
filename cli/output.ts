/** Printing for the CLI: protobuf JSON, aligned tables, numbers, and a progress bar on a terminal. */
import { create, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { CandidateState, VerdictKind } from '../gen/arswarm/v1/candidate_pb.js';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';

/** Prints a message as protobuf JSON (the same shape the HTTP gateway returns). */
export function printJson<D extends DescMessage>(desc: D, msg: MessageShape<D>): void {
  console.log(JSON.stringify(toJson(desc, create(desc, msg as never)), null, 2));
}

/** Renders rows as an aligned table; numbers-looking columns align right. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const right = headers.map(
    (_, i) => rows.length > 0 && rows.every((r) => /^[-+]?[\d.,]+%?$|^-$/.test(String(r[i]))),
  );
  return cells
    .map((r) =>
      r
        .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const word = {
  state: (s: CandidateState) => CandidateState[s]?.toLowerCase() ?? String(s),
  verdict: (k: VerdictKind) => VerdictKind[k]?.toLowerCase() ?? String(k),
  status: (s: TrialStatus) => TrialStatus[s]?.toLowerCase() ?? String(s),
};

/** A metric with 6 decimals, '-' when absent. */
export const metric = (x: number) => (Number.isFinite(x) ? x.toFixed(6) : '-');

/** Δ ± σ with a sign. */
export const deltaPm = (d: number, s: number) => `${d >= 0 ? '+' : ''}${d.toFixed(4)} ± ${s.toFixed(4)}`;

/** Milliseconds since the epoch (bigint) as a local time. */
export const when = (ms: bigint) =>
  ms ? new Date(Number(ms)).toISOString().replace('T', ' ').slice(0, 19) : '-';

/** Seconds as `1h02m`, `3m05s` or `12s`. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
export class ProgressBar {
  private readonly tty = process.stderr.isTTY === true;
  private last = '';

  constructor(
    private readonly total: number,
    private readonly width = 24,
  ) {}

  update(done: number, label = ''): void {
    if (!this.tty) return;
    const f = this.total > 0 ? Math.min(Math.max(done / this.total, 0), 1) : 0;
    const n = Math.round(f * this.width);
    const line = `[${'#'.repeat(n)}${'-'.repeat(this.width - n)}] ${done}/${this.total} ${label}`;
    if (line === this.last) return;
    this.last = line;
    process.stderr.write(`\r\x1b[2K${line}`);
  }

  done(): void {
    if (this.tty && this.last) process.stderr.write('\n');
  }
}
