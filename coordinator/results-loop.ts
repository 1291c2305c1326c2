/**
 * The coordinator's results loop: workers' trial reports from the results
 * stream, recorded in batches as ledger facts (trial-reports.ts) in turn with
 * every other state change, then acked, terminated or handed back.
 */
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { ArswarmError } from '../common/errors.js';
import type { Names } from '../common/subjects.js';
import type { Ledger } from './ledger/ledger.js';
import { MAX_REPORT_BATCH, recordReports, type ReportOutcome } from './trial-reports.js';

/** Redelivery delay of a report whose handling failed, ms. */
const RETRY_DELAY_MS = 1000;

export interface ResultsLoopOptions {
  js: JetStreamClient;
  names: Names;
  ledger: Ledger;
  /** Runs a state change in turn with the scheduler (Coordinator.exclusive). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** A candidate's trial got a result: the scheduler may decide its stage. */
  onCandidateResult(candidateId: string): Promise<void>;
  log: (msg: string) => void;
}

export class ResultsLoop {
  private results?: ConsumerMessages;

  constructor(private readonly o: ResultsLoopOptions) {}

  /** Consumes reports until `close`. */
  async run(): Promise<void> {
    const { js, names } = this.o;
    const consumer = await js.consumers.get(names.resultsStream, names.resultsConsumer);
    const results = (this.results = await consumer.consume({ max_messages: MAX_REPORT_BATCH }));
    const batch: JsMsg[] = [];
    for await (const m of results) {
      batch.push(m);
      // Reports that have already arrived are recorded together.
      if (batch.length < MAX_REPORT_BATCH && results.getPending() > 0) continue;
      const msgs = batch.splice(0);
      const outcomes = await this.o
        .exclusive(() =>
          recordReports(msgs, {
            ledger: this.o.ledger,
            names,
            onCandidateResult: (cid) => this.o.onCandidateResult(cid),
            log: this.o.log,
          }),
        )
        .catch((err: unknown): ReportOutcome[] => {
          this.o.log(`result handling failed, will retry: ${ArswarmError.from(err).message}`);
          return msgs.map(() => 'nak');
        });
      msgs.forEach((m, i) => {
        const o = outcomes[i];
        if (o === 'ack') m.ack();
        else if (o === 'term') m.term();
        else m.nak(RETRY_DELAY_MS);
      });
    }
  }

  /** Stops consuming; reports not yet acked are redelivered to the next start. */
  async close(): Promise<void> {
    await this.results?.close().catch(() => undefined);
  }
}
