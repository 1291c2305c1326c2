/** `arswarm ls`, `arswarm show ID`, `arswarm diff ID`: the journal of candidates. */
import { Command, Option } from 'commander';
import { CandidateState, VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import type { TrialStopped } from '../../gen/arswarm/v1/event_pb.js';
import {
  GetCandidateResponseSchema,
  ListCandidatesResponseSchema,
  type CandidateSummary,
  type StageEvidence,
} from '../../gen/arswarm/v1/control_pb.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { withClient, withConnection, type ConnectionFlags, type ControlClient } from '../connection.js';
import { flagBadge, flagLines } from '../audit-text.js';
import { deltaPm, metric, printJson, table, when, word } from '../output.js';

const STATES = ['active', 'review', 'merged', 'rejected', 'crashed', 'refused'];

function stateOf(name: string): CandidateState {
  const s = CandidateState[name.toUpperCase() as keyof typeof CandidateState];
  if (typeof s !== 'number' || s === CandidateState.UNSPECIFIED)
    throw new ArswarmError(Code.InvalidArgument, `unknown state "${name}" (states: ${STATES.join(', ')})`, {
      field: 'state',
    });
  return s;
}

/** Every candidate matching the filters, all pages. */
export async function listAll(
  client: ControlClient,
  filter: { states?: CandidateState[]; stage?: string; proposer?: string },
): Promise<CandidateSummary[]> {
  const out: CandidateSummary[] = [];
  let pageToken = '';
  do {
    const r = await client.listCandidates({ ...filter, pageSize: 1000, pageToken });
    out.push(...r.candidates);
    pageToken = r.nextPageToken;
  } while (pageToken);
  return out;
}

/** The last verdict as `stage verdict Δ ± σ`. */
function lastVerdict(c: CandidateSummary): string {
  const v = c.verdicts.at(-1);
  if (!v) return '-';
  // A crash has no Δ worth showing; its reason is in `show`.
  return v.kind === VerdictKind.CRASHED
    ? `${v.stage} crashed`
    : `${v.stage} ${word.verdict(v.kind)} ${deltaPm(v.delta, v.sigma)}`;
}

export function lsCommand(): Command {
  return withConnection(
    new Command('ls')
      .description('list candidates (newest last)')
      .addOption(new Option('--state <state...>', `only these states (${STATES.join(', ')})`))
      .option('--stage <name>', 'only candidates at this stage')
      .option('--proposer <name>', 'only from this proposer (human matches every person)')
      .addOption(
        new Option('-n, --limit <n>', 'show the last n (0 = all)')
          .default(30)
          .argParser((v) => Number.parseInt(v, 10)),
      ),
  ).action(
    async (opts: ConnectionFlags & { state?: string[]; stage?: string; proposer?: string; limit: number }) =>
      withClient(opts, async (client) => {
        const all = await listAll(client, {
          states: (opts.state ?? []).map(stateOf),
          stage: opts.stage,
          proposer: opts.proposer,
        });
        const shown = opts.limit > 0 ? all.slice(-opts.limit) : all;
        if (opts.json)
          return printJson(ListCandidatesResponseSchema, {
            candidates: shown,
            nextPageToken: '',
          } as never);
        if (!shown.length) return console.log('no candidates');
        console.log(
          table(
            ['id', 'state', 'stage', 'proposer', 'last verdict', 'title'],
            shown.map((c) => [
              c.candidate?.id ?? '',
              flagBadge(c) ? `${word.state(c.state)} (flagged)` : word.state(c.state),
              c.stage,
              c.candidate?.proposer ?? '',
              lastVerdict(c),
              (c.candidate?.title ?? '').slice(0, 60),
            ]),
          ),
        );
        if (shown.length < all.length)
          console.log(`(${all.length - shown.length} older; --limit 0 shows all)`);
      }),
  );
}

/** The evidence table shared by `show` and `review`. */
export function evidenceTable(evidence: StageEvidence[]): string {
  return table(
    ['stage', 'verdict', 'Δ ± σ', 'n', 'seeds', 'gpu', 'candidate', 'baseline', 'gpu-s'],
    evidence.map((e) => [
      e.stage,
      word.verdict(e.kind),
      // A mid-slot stop has no full-slot metric: its look is printed below the table.
      e.stop ? `stopped at ${Math.round((e.stop.evidence?.look ?? 0) * 100)}%` : deltaPm(e.delta, e.sigma),
      e.n,
      e.seeds.join(' ') || '-',
      e.gpuClass || '-',
      e.stop ? '-' : metric(e.candidateMean),
      e.stop ? '-' : metric(e.baselineMean),
      e.gpuSeconds.toFixed(1),
    ]),
  );
}

/** A mid-slot stop: its reason and the look's test, so a reader can redo it. */
export function stopLines(s: TrialStopped): string[] {
  const e = s.evidence;
  const out = [`${s.stage}: trial ${s.trialId} on ${s.workerId || '?'} (${s.gpuClass || '?'}) ${s.reason}`];
  if (e)
    out.push(
      `  look ${Math.round(e.look * 100)}% of ${e.looks}: candidate ${metric(e.candidateValue)} vs baseline ${metric(e.baselineMean)} (n ${e.n}), ` +
        `worse by ${metric(e.worseBy)} > bar ${metric(e.threshold)} = max(min_delta, t ${e.critical.toFixed(3)} · σ ${metric(e.sigma)} · √(1+1/n)), df ${e.df}, α ${e.alpha}`,
    );
  return out;
}

export function showCommand(): Command {
  return withConnection(
    new Command('show').description('a candidate: hypothesis, evidence per stage, trials').argument('<id>'),
  ).action(async (id: string, opts: ConnectionFlags) =>
    withClient(opts, async (client) => {
      const r = await client.getCandidate({ id });
      if (opts.json) return printJson(GetCandidateResponseSchema, r);
      const s = r.summary!;
      const c = s.candidate!;
      console.log(`${c.id}  ${c.title}`);
      console.log(
        `state ${word.state(s.state)}${r.approved ? ' (approved)' : ''} at ${s.stage}, proposer ${c.proposer}, created ${when(c.createdAtMs)}`,
      );
      console.log(
        `parent ${r.parentCommit.slice(0, 7)}${s.mergedCommit ? `, merged as ${s.mergedCommit.slice(0, 7)}` : ''}`,
      );
      if (c.usage?.costUsd)
        console.log(
          `LLM ${c.usage.model}: ${c.usage.inputTokens} in / ${c.usage.outputTokens} out tokens, $${c.usage.costUsd.toFixed(4)}`,
        );
      if (c.hypothesis) console.log(`\n${c.hypothesis}`);
      if (r.refusedReason) console.log(`\nrefused: ${r.refusedReason}`);
      const audit = flagLines(s);
      if (audit.length) console.log(`\n${audit.join('\n')}`);
      if (r.evidence.length) console.log(`\n${evidenceTable(r.evidence)}`);
      for (const e of r.evidence) if (e.stop) console.log(`\n${stopLines(e.stop).join('\n')}`);
      const trials = [
        ...r.results.map((t) => [
          t.trialId,
          t.trial?.stage?.name ?? '',
          String(t.trial?.seed ?? ''),
          word.status(t.status),
          metric(t.metric),
          t.workerId,
          `${(Number(t.runMs) / 1000).toFixed(1)}s`,
          t.reason.slice(0, 50),
        ]),
        ...r.pending.map((t) => [t.id, t.stage?.name ?? '', String(t.seed), 'pending', '-', '-', '-', '']),
      ];
      if (trials.length)
        console.log(
          `\n${table(['trial', 'stage', 'seed', 'status', 'metric', 'worker', 'run', 'reason'], trials)}`,
        );
      console.log(`\n(arswarm diff ${c.id} prints the patch; arswarm logs TRIAL a trial's log)`);
    }),
  );
}

export function diffCommand(): Command {
  return withConnection(
    new Command('diff').description("print a candidate's patch (current, after any rebase)").argument('<id>'),
  ).action(async (id: string, opts: ConnectionFlags) =>
    withClient(opts, async (client) => {
      const r = await client.getCandidate({ id });
      if (opts.json)
        return console.log(JSON.stringify({ id, parentCommit: r.parentCommit, diff: r.diff }, null, 2));
      process.stdout.write(r.diff.endsWith('\n') ? r.diff : `${r.diff}\n`);
    }),
  );
}
