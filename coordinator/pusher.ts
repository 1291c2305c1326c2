/**
 * Pushes the shared branch to a remote after merges, in the background, with
 * retries and backoff. Pushes coalesce: a push always sends the branch as it
 * is now, so a burst of merges costs one push.
 */
import type { TargetRepo } from './repo.js';
import { RETRY_DEFAULTS } from './team/retry.js';

/** Attempts per push before giving up until the next merge: the retries of every call to the outside. @default 5 */
export const DEFAULT_PUSH_ATTEMPTS = RETRY_DEFAULTS.attempts;

export class Pusher {
  private running = false;
  private again = false;
  /** Last error, for status and tests. */
  lastError = '';
  pushed = 0;

  constructor(
    private readonly repo: TargetRepo,
    private readonly remote: string,
    private readonly log: (msg: string) => void,
    private readonly attempts = DEFAULT_PUSH_ATTEMPTS,
    private readonly backoffMs = RETRY_DEFAULTS.backoffMs,
  ) {}

  /** Asks for a push; returns at once. */
  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  /** Resolves when no push is running. */
  async idle(): Promise<void> {
    while (this.running) await new Promise((r) => setTimeout(r, 50));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      for (let i = 1; i <= this.attempts; i++) {
        try {
          await this.repo.raw([
            'push',
            '--quiet',
            this.remote,
            `refs/heads/${this.repo.branch}:refs/heads/${this.repo.branch}`,
          ]);
          this.lastError = '';
          this.pushed++;
          break;
        } catch (err) {
          this.lastError = (err as Error).message.trim();
          this.log(`push to ${this.remote} failed (attempt ${i}/${this.attempts}): ${this.lastError}`);
          if (i < this.attempts) await new Promise((r) => setTimeout(r, this.backoffMs * 2 ** (i - 1)));
        }
      }
    } while (this.again);
    this.running = false;
  }
}
