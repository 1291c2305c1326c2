/**
 * The team workflow around the ladder: review branches (and pull requests)
 * for candidates waiting for review, and webhook notices. Built from the
 * config once at start; nothing runs when the config asks for neither.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Config } from '../../common/config.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { sha256 } from '../../common/git.js';
import { withDefaults } from '../../common/option-defaults.js';
import type { NoticeKind } from '../../common/team-config.js';
import type { Ledger } from '../ledger/ledger.js';
import type { TargetRepo } from '../repo.js';
import { noticeOf } from './notices.js';
import { Notifier } from './notifier.js';
import { PullRequestOpener } from './pull-request.js';
import { ReviewBranches } from './review-branches.js';

export { REVIEW_BRANCH_PREFIX, reviewBranch, waitsForReview } from './review-branches.js';

/** A condition the coordinator reports while it lasts (a stall, a spent trial budget). */
export interface Signal {
  kind: Extract<NoticeKind, 'stalled' | 'budget_exhausted'>;
  text: string;
}

export interface TeamOptions {
  config: Config;
  repo: TargetRepo;
  ledger: Ledger;
  /** Where relative `token_file` and `secret_file` paths start. @default process.cwd() */
  baseDir?: string;
  /** Conditions now; polled every `pollMs`, each new one noticed once. */
  signals: () => Signal[];
  log: (msg: string) => void;
  /** How often `signals` is polled. @default 2000 */
  pollMs?: number;
  /** First backoff of pushes, pull requests and webhooks. @default 1000 */
  backoffMs?: number;
}

/** Defaults of TeamOptions. */
export const TEAM_DEFAULTS = { pollMs: 2000 };

export interface Team {
  reviewBranches?: ReviewBranches;
  notifier?: Notifier;
  close(): Promise<void>;
}

function readSecret(file: string, baseDir: string | undefined, field: string): string {
  const path = isAbsolute(file) ? file : resolve(baseDir ?? process.cwd(), file);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ArswarmError(Code.FailedPrecondition, `cannot read ${path}: ${(err as Error).message}`, {
      field,
      cause: err,
    });
  }
}

/** Starts what `review` and `notify` ask for. */
export function startTeam(o: TeamOptions): Team {
  const { config, log } = o;
  const team: Team = { close: async () => undefined };
  const closers: (() => Promise<void> | void)[] = [];
  const pr = config.review?.pull_requests;
  if (pr && !config.swarm.push_remote)
    throw new ArswarmError(
      Code.InvalidArgument,
      'review.pull_requests needs swarm.push_remote (the host must have the branch)',
      {
        field: 'review.pull_requests',
      },
    );
  if (config.review?.branches || pr) {
    const rb = new ReviewBranches({
      repo: o.repo,
      ledger: o.ledger,
      config,
      remote: config.swarm.push_remote,
      pullRequests: pr
        ? new PullRequestOpener({
            config: pr,
            token: readSecret(pr.token_file, o.baseDir, 'review.pull_requests.token_file'),
            defaultBase: config.swarm.branch,
            log,
            retry: { backoffMs: o.backoffMs },
          })
        : undefined,
      log,
      backoffMs: o.backoffMs,
    });
    rb.start();
    team.reviewBranches = rb;
    closers.push(() => rb.close());
  }
  const hooks = config.notify?.webhooks ?? [];
  if (hooks.length) {
    const notifier = new Notifier({
      webhooks: hooks.map((h, i) => ({
        config: h,
        secret: h.secret_file
          ? readSecret(h.secret_file, o.baseDir, `notify.webhooks[${i}].secret_file`)
          : undefined,
      })),
      log,
      backoffMs: o.backoffMs,
    });
    team.notifier = notifier;
    const unsubscribe = o.ledger.onEvent((ev) => {
      const n = noticeOf(ev, o.ledger.state, config);
      if (n) notifier.notify(n);
    });
    closers.push(() => void unsubscribe());
    // A condition is noticed when it starts; it may be noticed again after it ended and came back.
    let last = new Set<string>();
    const poll = () => {
      const now = new Set<string>();
      for (const s of o.signals()) {
        const key = `${s.kind}.${sha256(s.text).slice(0, 12)}`;
        now.add(key);
        if (!last.has(key))
          notifier.notify({
            id: `${key}.${Date.now()}`,
            kind: s.kind,
            atMs: Date.now(),
            branch: config.swarm.branch,
            text: s.text,
          });
      }
      last = now;
    };
    const timer = setInterval(poll, withDefaults(TEAM_DEFAULTS, o).pollMs);
    timer.unref();
    closers.push(() => clearInterval(timer));
  }
  team.close = async () => {
    for (const c of closers.reverse()) await c();
    await team.notifier?.idle();
  };
  return team;
}
