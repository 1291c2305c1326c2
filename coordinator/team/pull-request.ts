/**
 * Opens a pull request for a review branch through GitHub's REST API
 * (`POST /repos/{owner}/{repo}/pulls`), with fetch. Limits, on purpose: one
 * host kind (GitHub and GitHub Enterprise, whose API has the same shape); a
 * pull request that already exists for the branch (422) counts as opened and
 * is never updated (a re-pushed branch updates its commits, not its text);
 * closing is left to the host, which closes a pull request whose head branch
 * is deleted.
 */
import type { PullRequestsConfig } from '../../common/team-config.js';
import { Permanent, retrying, type RetryOptions } from './retry.js';

export interface PullRequestOptions {
  config: PullRequestsConfig;
  /** The API token (read from `token_file` at the edge). */
  token: string;
  /** The branch pull requests target when the config names none (swarm.branch). */
  defaultBase: string;
  log: (msg: string) => void;
  /** @default { attempts: 5, backoffMs: 1000 } */
  retry?: Pick<RetryOptions, 'attempts' | 'backoffMs'>;
}

/** What a pull request says. */
export interface PullRequestBody {
  /** The review branch. */
  head: string;
  title: string;
  body: string;
}

/** The outcome of one open: the pull request's address, or that one existed already. */
export type PullRequestOutcome = { opened: true; url: string } | { opened: false; exists: true };

export class PullRequestOpener {
  constructor(private readonly o: PullRequestOptions) {}

  /** Opens a pull request; server errors and network failures are retried, other 4xx are not. */
  async open(pr: PullRequestBody): Promise<PullRequestOutcome> {
    const c = this.o.config;
    const url = `${c.api_url.replace(/\/+$/, '')}/repos/${c.repo}/pulls`;
    const payload = JSON.stringify({
      title: pr.title,
      head: pr.head,
      base: c.base ?? this.o.defaultBase,
      body: pr.body,
    });
    return retrying(
      async () => {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.o.token}`,
            accept: 'application/vnd.github+json',
            'content-type': 'application/json',
            'x-github-api-version': '2022-11-28',
            'user-agent': 'arswarm',
          },
          body: payload,
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.status === 201) {
          const url = (JSON.parse(text) as { html_url?: string }).html_url ?? '';
          return { opened: true as const, url };
        }
        // GitHub answers 422 "A pull request already exists for ..." for a second open.
        if (res.status === 422) return { opened: false as const, exists: true as const };
        const err = new Error(`${url} answered ${res.status}: ${text.slice(0, 200)}`);
        if (res.status >= 400 && res.status < 500 && res.status !== 429) throw new Permanent(err.message);
        throw err;
      },
      {
        ...this.o.retry,
        onFailure: (err, i, n) =>
          this.o.log(`pull request for ${pr.head} failed (attempt ${i}/${n}): ${(err as Error).message}`),
      },
    );
  }
}
