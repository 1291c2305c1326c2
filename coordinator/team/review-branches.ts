/**
 * A git branch per candidate waiting for review, `arswarm/review/<id>`: the
 * candidate's diff on the parent it was validated against, one commit whose
 * message is the merge message (title, hypothesis, evidence, trailers), pushed
 * to `swarm.push_remote` and optionally opened as a pull request. Teams
 * review where they already review; the decision still goes through
 * `arswarm review approve|reject`.
 *
 * Work runs in the background, one branch at a time, and never in the
 * scheduler's serial section: a slow remote delays a branch, not a merge.
 * Everything is idempotent, so a restart re-creates nothing that is current.
 */
import { CandidateState } from '../../gen/arswarm/v1/candidate_pb.js';
import type { Event } from '../../gen/arswarm/v1/event_pb.js';
import type { Config } from '../../common/config.js';
import { ArswarmError } from '../../common/errors.js';
import { sha256 } from '../../common/git.js';
import type { Ledger } from '../ledger/ledger.js';
import type { CandidateView } from '../ledger/state.js';
import { mergeMessage } from '../merger.js';
import { Mutex } from '../mutex.js';
import type { TargetRepo } from '../repo.js';
import type { PullRequestOpener } from './pull-request.js';
import { retrying } from './retry.js';

/** Prefix of every review branch. */
export const REVIEW_BRANCH_PREFIX = 'arswarm/review/';

/** Trailer tying a review commit to the parent and diff it was made from. */
export const REVIEW_KEY_TRAILER = 'Arswarm-Review-Of';

/** The review branch of a candidate. */
export function reviewBranch(candidateId: string): string {
  return `${REVIEW_BRANCH_PREFIX}${candidateId}`;
}

/**
 * True when a candidate waits for a person: it passed the top stage, nobody
 * approved it yet, and either the policy is `review` or an audit flagged it.
 */
export function waitsForReview(v: CandidateView, policy: Config['swarm']['merge_policy']): boolean {
  return v.state === CandidateState.REVIEW && !v.approved && (policy === 'review' || v.flags.length > 0);
}

export interface ReviewBranchesOptions {
  repo: TargetRepo;
  ledger: Ledger;
  config: Config;
  /** Where branches are pushed (swarm.push_remote). @default none: branches stay in the coordinator's repo */
  remote?: string;
  /** Opens a pull request per pushed branch. @default none */
  pullRequests?: PullRequestOpener;
  log: (msg: string) => void;
  /** Push attempts. @default 5 */
  attempts?: number;
  /** First backoff between pushes. @default 1000 */
  backoffMs?: number;
}

export class ReviewBranches {
  private readonly lock = new Mutex();
  /** Candidate id -> review key of the branch made (parent + diff hash). */
  private readonly made = new Map<string, string>();
  private readonly opened = new Set<string>();
  private unsubscribe?: () => void;
  private pending = 0;
  /** Last error, for tests and status. */
  lastError = '';

  constructor(private readonly o: ReviewBranchesOptions) {}

  /** Brings branches in line with the ledger (after a restart), then follows new events. */
  start(): void {
    this.unsubscribe = this.o.ledger.onEvent((ev) => this.onEvent(ev));
    this.schedule(() => this.reconcile());
  }

  /** Resolves when no branch work is queued or running. */
  async idle(): Promise<void> {
    while (this.pending > 0) await new Promise((r) => setTimeout(r, 50));
  }

  /** Stops following the ledger; work already queued finishes. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.idle();
  }

  private onEvent(ev: Event): void {
    const b = ev.body;
    const id =
      b.case === 'verdict' ||
      b.case === 'candidateFlagged' ||
      b.case === 'candidateAudited' ||
      b.case === 'candidateRebased' ||
      b.case === 'merged' ||
      b.case === 'reviewDecided'
        ? b.value.candidateId
        : undefined;
    if (id) this.schedule(() => this.sync(id));
  }

  private schedule(fn: () => Promise<void>): void {
    this.pending++;
    void this.lock
      .run(fn)
      .catch((err: unknown) => {
        this.lastError = ArswarmError.from(err).message;
        this.o.log(`review branch: ${this.lastError}`);
      })
      .finally(() => this.pending--);
  }

  /** Every waiting candidate gets its branch; branches of decided candidates go. */
  private async reconcile(): Promise<void> {
    const refs = await this.o.repo.raw([
      'for-each-ref',
      '--format=%(refname:lstrip=2)',
      `refs/heads/${REVIEW_BRANCH_PREFIX}`,
    ]);
    const ids = new Set(
      refs
        .split('\n')
        .filter(Boolean)
        .map((r) => r.slice(REVIEW_BRANCH_PREFIX.length)),
    );
    for (const v of this.o.ledger.state.candidates.values())
      if (ids.has(v.candidate.id) || waitsForReview(v, this.o.config.swarm.merge_policy))
        await this.sync(v.candidate.id);
  }

  private async sync(id: string): Promise<void> {
    const v = this.o.ledger.state.candidates.get(id);
    if (!v) return;
    if (waitsForReview(v, this.o.config.swarm.merge_policy)) await this.ensure(v);
    else if (v.state === CandidateState.MERGED || v.state === CandidateState.REJECTED) await this.remove(id);
    // Approved, or back at the top stage after a rebase: the branch stays until the decision.
  }

  /** Creates (or moves, after a rebase) the candidate's branch, pushes it and opens its pull request. */
  private async ensure(v: CandidateView): Promise<void> {
    const id = v.candidate.id;
    const key = `${v.parent} ${sha256(v.diff).slice(0, 16)}`;
    if (this.made.get(id) === key) return;
    const branch = reviewBranch(id);
    const ref = `refs/heads/${branch}`;
    const current = await this.o.repo.raw(['log', '-1', '--format=%B', ref, '--']).catch(() => '');
    if (!current.includes(`${REVIEW_KEY_TRAILER}: ${key}`)) {
      const message = `${mergeMessage(v, this.o.config.target.metric.name)}${REVIEW_KEY_TRAILER}: ${key}\n`;
      const commit = await this.o.repo.commitPatch(v.parent, v.diff, message);
      await this.o.repo.raw(['update-ref', ref, commit]);
      this.o.log(`review branch ${branch} at ${commit.slice(0, 7)}`);
    }
    if (this.o.remote) {
      // Forced: the branch belongs to the swarm, and a rebase rewrites it.
      await this.push(['push', '--quiet', '--force', this.o.remote, `${ref}:${ref}`], branch);
      if (this.o.pullRequests && !this.opened.has(id)) {
        const out = await this.o.pullRequests.open({
          head: branch,
          title: v.candidate.title,
          body: `${v.candidate.hypothesis}\n\nDecide with \`arswarm review approve ${id}\` or \`arswarm review reject ${id}\`; the swarm merges its own commit.\n\n\`\`\`\n${mergeMessage(v, this.o.config.target.metric.name)}\`\`\`\n`,
        });
        this.opened.add(id);
        this.o.log(
          out.opened ? `pull request for ${id}: ${out.url}` : `pull request for ${id} exists already`,
        );
      }
    }
    this.made.set(id, key);
  }

  /** Deletes a decided candidate's branch here and on the remote (the ledger and the merge commit keep the record). */
  private async remove(id: string): Promise<void> {
    const branch = reviewBranch(id);
    const ref = `refs/heads/${branch}`;
    this.made.delete(id);
    const local = await this.o.repo.raw(['for-each-ref', ref]);
    if (!local.trim()) return;
    if (this.o.remote) {
      const remote = this.o.remote;
      const there = await retrying(() => this.o.repo.raw(['ls-remote', remote, ref]), {
        attempts: this.o.attempts,
        backoffMs: this.o.backoffMs,
      });
      if (there.trim()) await this.push(['push', '--quiet', remote, `:${ref}`], branch);
    }
    await this.o.repo.raw(['update-ref', '-d', ref]);
    this.o.log(`review branch ${branch} deleted`);
  }

  private async push(args: string[], branch: string): Promise<void> {
    await retrying(() => this.o.repo.raw(args), {
      attempts: this.o.attempts,
      backoffMs: this.o.backoffMs,
      onFailure: (err, i, n) =>
        this.o.log(
          `push of ${branch} to ${this.o.remote} failed (attempt ${i}/${n}): ${(err as Error).message.trim()}`,
        ),
    });
  }
}
