/**
 * `arswarm review`: the review queue with its evidence; `review approve ID -m
 * NOTE` merges (after revalidation when the head moved), `review reject ID -m
 * NOTE` discards. The decision is recorded with the token's name.
 */
import { Command, Option } from 'commander';
import { CandidateState } from '../../gen/arswarm/v1/candidate_pb.js';
import { ListReviewResponseSchema, ReviewResponseSchema } from '../../gen/arswarm/v1/control_pb.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { withClient, withConnection, type ConnectionFlags, type ControlClient } from '../connection.js';
import { ProgressBar, printJson, word } from '../output.js';
import { evidenceTable } from './candidates.js';
import { flagLines } from '../audit-text.js';

const FINAL = new Set([
  CandidateState.MERGED,
  CandidateState.REJECTED,
  CandidateState.CRASHED,
  CandidateState.REVIEW,
]);

/** Follows a candidate until it reaches a final state (or review again), with a bar over the ladder's stages. */
export async function follow(client: ControlClient, id: string, timeoutMs: number): Promise<CandidateState> {
  const status = await client.getStatus({});
  const stages = status.stages.map((s) => s.name);
  const bar = new ProgressBar(stages.length);
  const end = Date.now() + timeoutMs;
  try {
    for (;;) {
      const c = await client.getCandidate({ id });
      const s = c.summary!;
      const passed = stages.filter((st) =>
        c.evidence.some((e) => e.stage === st && word.verdict(e.kind) === 'promote'),
      ).length;
      bar.update(passed, `${id} ${word.state(s.state)} at ${s.stage}`);
      if (FINAL.has(s.state) && !(s.state === CandidateState.REVIEW && c.approved)) return s.state;
      if (Date.now() > end)
        throw new ArswarmError(Code.DeadlineExceeded, `${id} is still ${word.state(s.state)} at ${s.stage}`, {
          hint: 'it goes on in the swarm; check later with `arswarm show`',
        });
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    bar.done();
  }
}

export function reviewCommand(): Command {
  return withConnection(
    new Command('review')
      .description('list candidates waiting for review, or approve / reject one')
      .argument('[action]', 'approve or reject')
      .argument('[id]', 'candidate id')
      .option('-m, --message <note>', 'a note recorded with the decision', '')
      .option('--wait', 'after approving, wait until the merge (revalidation when the head moved)')
      .addOption(
        new Option('--timeout <seconds>', 'how long --wait waits')
          .default(3600)
          .argParser((v) => Number.parseInt(v, 10)),
      ),
  ).action(
    async (
      action: string | undefined,
      id: string | undefined,
      opts: ConnectionFlags & { message: string; wait?: boolean; timeout: number },
    ) =>
      withClient(opts, async (client) => {
        if (!action) {
          const r = await client.listReview({});
          if (opts.json) return printJson(ListReviewResponseSchema, r);
          if (!r.items.length)
            return console.log(`nothing waits for review (merge policy: ${r.mergePolicy})`);
          for (const item of r.items) {
            const c = item.summary!.candidate!;
            console.log(
              `${c.id}  ${c.title}  [${c.proposer}${item.costUsd ? `, $${item.costUsd.toFixed(4)}` : ''}]`,
            );
            if (c.hypothesis) console.log(`  ${c.hypothesis}`);
            for (const l of flagLines(item.summary!)) console.log(`  ${l}`);
            if (item.approved) console.log('  approved, waiting for its merge');
            else if (!item.onHead)
              console.log('  the head moved since: approving revalidates it at the top stage first');
            console.log(
              evidenceTable(item.evidence)
                .split('\n')
                .map((l) => `  ${l}`)
                .join('\n'),
            );
            console.log('');
          }
          console.log('arswarm diff ID shows a patch; arswarm review approve|reject ID -m NOTE decides');
          return;
        }
        if (action !== 'approve' && action !== 'reject')
          throw new ArswarmError(
            Code.InvalidArgument,
            `unknown review action "${action}" (approve or reject)`,
            {
              field: 'action',
            },
          );
        if (!id)
          throw new ArswarmError(Code.InvalidArgument, `review ${action} needs a candidate id`, {
            field: 'id',
          });
        const req = { id, note: opts.message };
        let r = action === 'approve' ? await client.approve(req) : await client.reject(req);
        if (action === 'approve' && r.state !== CandidateState.MERGED && opts.wait) {
          const state = await follow(client, id, opts.timeout * 1000);
          const c = await client.getCandidate({ id });
          r = { ...r, state, mergedCommit: c.summary?.mergedCommit ?? '' };
        }
        if (opts.json) return printJson(ReviewResponseSchema, r);
        if (r.state === CandidateState.MERGED)
          console.log(`${id} approved by ${r.reviewer} and merged as ${r.mergedCommit.slice(0, 7)}`);
        else if (action === 'approve')
          console.log(
            `${id} approved by ${r.reviewer}; it is ${word.state(r.state)}: the head moved, so it is revalidated first and merges when it passes`,
          );
        else console.log(`${id} rejected by ${r.reviewer}`);
      }),
  );
}
