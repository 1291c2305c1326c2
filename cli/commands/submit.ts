/** `arswarm submit --title T --hypothesis H patch.diff`: a person's candidate, optionally followed up the ladder. */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { SubmitCandidateResponseSchema } from '../../gen/arswarm/v1/control_pb.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { withClient, withConnection, type ConnectionFlags } from '../connection.js';
import { printJson, word } from '../output.js';
import { follow } from './review.js';

function readPatch(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path === '-' ? 0 : path);
  } catch (err) {
    throw new ArswarmError(Code.NotFound, `cannot read patch ${path}`, { cause: err, field: 'patch' });
  }
  // Decoding leniently would send U+FFFD in place of the bad bytes: a different patch.
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ArswarmError(Code.InvalidArgument, `patch ${path} is not valid UTF-8`, {
      cause: err,
      field: 'patch',
      reason: 'invalid_utf8',
    });
  }
}

export function submitCommand(): Command {
  return withConnection(
    new Command('submit')
      .description('submit a unified diff (editable files only) as a candidate; `-` reads stdin')
      .argument('<patch>', 'patch file, or - for stdin')
      .requiredOption('-t, --title <title>', 'one line: what the change is')
      .option('-H, --hypothesis <text>', 'why it should help', '')
      .option('--wait', 'follow it up the ladder until review, merge or rejection')
      .addOption(
        new Option('--timeout <seconds>', 'how long --wait waits')
          .default(3600)
          .argParser((v) => Number.parseInt(v, 10)),
      ),
  ).action(
    async (
      patch: string,
      opts: ConnectionFlags & { title: string; hypothesis: string; wait?: boolean; timeout: number },
    ) =>
      withClient(opts, async (client) => {
        const diff = readPatch(patch);
        const r = await client.submitCandidate({ diff, title: opts.title, hypothesis: opts.hypothesis });
        if (!opts.wait) {
          if (opts.json) return printJson(SubmitCandidateResponseSchema, r);
          return console.log(
            `${r.id} accepted against ${r.parentCommit.slice(0, 7)}; arswarm show ${r.id} follows it`,
          );
        }
        if (!opts.json) console.error(`${r.id} accepted against ${r.parentCommit.slice(0, 7)}`);
        const state = await follow(client, r.id, opts.timeout * 1000);
        if (opts.json)
          return console.log(
            JSON.stringify({ id: r.id, parentCommit: r.parentCommit, state: word.state(state) }),
          );
        console.log(`${r.id} ${word.state(state)}`);
      }),
  );
}
