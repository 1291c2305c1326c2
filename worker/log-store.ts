/** Full trial logs on the worker's disk: one file per trial, the oldest deleted beyond a count. */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { token } from '../common/subjects.js';

export class LogStore {
  constructor(
    readonly dir: string,
    private readonly maxFiles: number,
  ) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** The log path of a trial attempt; names sort by time. */
  pathFor(trialId: string, deliveryCount: number): string {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return join(this.dir, `${stamp}_${token(trialId)}_d${deliveryCount}.log`);
  }

  /** Deletes the oldest logs beyond maxFiles. */
  async rotate(): Promise<void> {
    const files = (await readdir(this.dir)).filter((f) => f.endsWith('.log')).sort();
    const extra = files.length - this.maxFiles;
    if (extra > 0)
      await Promise.all(files.slice(0, extra).map((f) => rm(join(this.dir, f), { force: true })));
  }
}
