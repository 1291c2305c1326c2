/**
 * Feeds the swarm with candidates through SubmitCandidate, the way an
 * external agent fleet (or people) would, keeping the lowest stage's queue
 * about `depth` trials deep. Proposer speed is another benchmark's subject
 * (proposer-starvation); here the coordinator's own work is measured.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { createClient } from '../../common/grpc.js';
import type { ControlService } from '../../gen/arswarm/v1/control_pb.js';
import { candidateDiff } from './target.js';

type Control = ReturnType<typeof createClient<(typeof ControlService)['method']>>;

export interface SubmitterOptions {
  client: Control;
  jsm: JetStreamManager;
  stream: string;
  /** The lowest stage's `any` consumer. */
  consumer: string;
  /** Trials to keep waiting in that queue. */
  depth: number;
  /** Most SubmitCandidate calls in flight. @default 16 */
  concurrency?: number;
  log?: (msg: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Submitter {
  submitted = 0;
  refused = 0;
  failed = 0;
  /** Depth of the lowest stage's queue each time it was read: [Date.now(), trials]. */
  readonly depths: [number, number][] = [];
  private next = 0;
  private inflight = 0;
  private stopping = false;
  private loop?: Promise<void>;
  /** Submission times (ms) not yet visible in the queue. */
  private recent: number[] = [];

  constructor(private readonly o: SubmitterOptions) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    while (this.inflight > 0) await sleep(20);
  }

  private async run(): Promise<void> {
    const max = this.o.concurrency ?? 16;
    while (!this.stopping) {
      let pending: number;
      try {
        pending = (await this.o.jsm.consumers.info(this.o.stream, this.o.consumer)).num_pending;
        this.depths.push([Date.now(), pending]);
      } catch {
        await sleep(200);
        continue;
      }
      // A candidate reaches the queue at the coordinator's next tick: count recent ones as on their way.
      const now = Date.now();
      this.recent = this.recent.filter((t) => now - t < 600);
      let need = this.o.depth - pending - this.recent.length - this.inflight;
      while (need-- > 0 && this.inflight < max && !this.stopping) this.submitOne();
      await sleep(50);
    }
  }

  private submitOne(): void {
    const i = this.next++;
    const { diff, title } = candidateDiff(i);
    this.inflight++;
    this.o.client
      .submitCandidate({ diff, title, hypothesis: 'scale benchmark load' }, { timeoutMs: 30_000 })
      .then(
        () => {
          this.submitted++;
          this.recent.push(Date.now());
        },
        (err: unknown) => {
          this.failed++;
          if (this.failed <= 5) this.o.log?.(`submit failed: ${(err as Error).message}`);
        },
      )
      .finally(() => this.inflight--);
  }
}
