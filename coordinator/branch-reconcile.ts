/**
 * Makes the ledger agree with the shared branch after a merge commit whose
 * `merged` event never reached the ledger (merge commit first, ledger event
 * second: a coordinator killed between them, or NATS down when the event was
 * appended). Commits after the ledger's head that carry an
 * `Arswarm-Candidate:` trailer of a known candidate, each on the one before,
 * are recorded as merges; anything else on the branch is refused.
 */
import type { Config } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import { sha256 } from '../common/git.js';
import { dedupeIds } from '../common/subjects.js';
import type { Ledger } from './ledger/ledger.js';
import { candidateOf } from './merger.js';
import type { TargetRepo } from './repo.js';

/** Stage recorded for a merge found on the branch rather than made in this run of the coordinator. */
export const RECOVERED_STAGE = 'recovered';

/**
 * Records every merge on the branch the ledger does not know yet; returns the
 * candidate ids recorded (empty when the branch is at the ledger's head).
 */
export async function recoverMerges(ledger: Ledger, repo: TargetRepo): Promise<string[]> {
  // The state may lack an event whose append failed but was stored.
  await ledger.catchUp();
  const s = ledger.state;
  const gitHead = await repo.head();
  if (gitHead === s.head) return [];
  if (!(await repo.hasCommit(s.head)) || !(await repo.isAncestor(s.head, gitHead)))
    throw new ArswarmError(
      Code.FailedPrecondition,
      `shared branch ${repo.branch} is at ${gitHead.slice(0, 7)}, which does not descend from the ledger's head ${s.head.slice(0, 7)}`,
      {
        hint: 'someone rewrote the shared branch; restore it or start with a fresh prefix/state dir',
      },
    );
  const recovered: string[] = [];
  for (const c of await repo.commitsSince(s.head)) {
    const id = candidateOf(c.message);
    const v = id ? s.candidates.get(id) : undefined;
    if (!v || c.parent !== s.head)
      throw new ArswarmError(
        Code.FailedPrecondition,
        `commit ${c.commit.slice(0, 7)} on the shared branch is not an arswarm merge`,
        {
          hint: 'commits on the shared branch must come from arswarm; move yours to another branch',
        },
      );
    // The dedupe id is the one the interrupted merge used: if that event did
    // land, the ledger applies the stored one instead of a second.
    await ledger.append(
      {
        case: 'merged',
        value: {
          candidateId: v.candidate.id,
          commit: c.commit,
          previousHead: c.parent,
          stage: RECOVERED_STAGE,
        },
      },
      dedupeIds.merged(v.candidate.id),
    );
    if (s.head !== c.commit)
      throw new ArswarmError(
        Code.Internal,
        `the ledger did not move to ${c.commit.slice(0, 7)} after recording the merge of ${v.candidate.id}`,
      );
    recovered.push(v.candidate.id);
  }
  return recovered;
}

/**
 * The start's reconciliation: a first start records `swarmStarted` at the
 * branch's head; a restart records the merges a crash left out of the ledger
 * (recoverMerges), logging each.
 */
export async function reconcileAtStart(
  ledger: Ledger,
  repo: TargetRepo,
  config: Config,
  log: (msg: string) => void,
): Promise<void> {
  const s = ledger.state;
  const gitHead = await repo.head();
  if (!s.head) {
    await ledger.append({
      case: 'swarmStarted',
      value: {
        branch: config.swarm.branch,
        head: gitHead,
        configSha256: sha256(JSON.stringify(config)),
      },
    });
    return;
  }
  for (const id of await recoverMerges(ledger, repo))
    log(
      `recovered merge of ${id} (${ledger.state.candidates.get(id)?.mergedCommit.slice(0, 7)}) after a restart`,
    );
}
