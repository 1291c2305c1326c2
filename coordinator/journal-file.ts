/**
 * Keeps `<stateDir>/journal.md` (the research log people open) current:
 * written once the coordinator serves (not on the way there: at 100k trials
 * it is a tenth of a second of a restart), then rewritten at most every
 * JOURNAL_DEBOUNCE_MS after a decision changes it. The text itself comes from journal.ts.
 */
import { writeFile } from 'node:fs/promises';
import type { Config } from '../common/config.js';
import { journalMarkdown } from './journal.js';
import type { Ledger } from './ledger/ledger.js';

/** Longest delay before journal.md reflects a decision. */
export const JOURNAL_DEBOUNCE_MS = 2000;

/**
 * Rewrites `path` after every decision the ledger records, until the
 * process ends; returns the first write, for the caller to run when it is ready.
 */
export function keepJournalCurrent(
  path: string,
  ledger: Ledger,
  config: Config,
  log: (msg: string) => void,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const write = () => {
    timer = undefined;
    void writeFile(
      path,
      journalMarkdown(ledger.state, {
        metric: config.target.metric.name,
        lowerIsBetter: config.target.metric.direction === 'minimize',
        limit: 500,
      }),
    ).catch((err: unknown) => log(`cannot write ${path}: ${(err as Error).message}`));
  };
  // Queued, started and finished trials are not decisions: the journal changes on verdicts, merges and the like.
  ledger.onEvent((ev) => {
    const c = ev.body.case;
    if (c === 'trialQueued' || c === 'trialStarted' || c === 'trialFinished' || timer) return;
    timer = setTimeout(write, JOURNAL_DEBOUNCE_MS);
    timer.unref();
  });
  return write;
}
