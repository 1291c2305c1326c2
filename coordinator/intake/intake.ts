/**
 * Intake: turns proposals (from any proposer, or a person) into candidates.
 * Every proposal is admitted or refused with a reason before it can cost a
 * GPU slot (admission.ts); both outcomes are ledger events.
 *
 * Proposers run in the background (see proposers/pool/) with the context of
 * the current head (proposal-context.ts) and budgets counted from the ledger
 * (proposer-spend.ts); `proposeOne()` only takes a ready proposal, carries it
 * onto the current head when the head moved since it was made, and records
 * it. It never waits for a model.
 */
import type { Config } from '../../common/config.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { dedupeIds } from '../../common/subjects.js';
import type { HistoryEntry } from '../journal.js';
import type { Ledger } from '../ledger/ledger.js';
import { ProposalPool, type ReadyProposal } from '../proposers/pool/index.js';
import type { Proposer } from '../proposers/proposer.js';
import type { TargetRepo } from '../repo.js';
import { Admission, type Submission } from './admission.js';
import { CommitFiles } from './commit-files.js';
import { ProposalContexts } from './proposal-context.js';
import { resolveIntakeOptions, type IntakeOptions } from './options.js';
import { candidatesOf, priorSpend } from './proposer-spend.js';

export type { Submission } from './admission.js';
export type { IntakeOptions } from './options.js';

export class Intake {
  readonly pool: ProposalPool;
  private readonly files: CommitFiles;
  private readonly admission: Admission;
  private readonly contexts: ProposalContexts;
  private readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  private readonly background: boolean;

  constructor(
    config: Config,
    repo: TargetRepo,
    private readonly ledger: Ledger,
    proposers: Proposer[],
    private readonly log: (msg: string) => void,
    options: IntakeOptions = {},
  ) {
    const o = resolveIntakeOptions(config, options);
    const t = config.target;
    this.files = new CommitFiles(repo);
    this.admission = new Admission(ledger, t, this.files, o.python);
    this.contexts = new ProposalContexts(config, repo, ledger, this.files, this.admission);
    this.exclusive = o.exclusive;
    this.background = o.background;
    // A merge makes every buffered proposal stale: read the new head's editable files
    // now, off the serial section, so carrying them over needs no git.
    ledger.onEvent((ev) => {
      if (ev.body.case !== 'merged') return;
      this.files.warm(ev.body.value.commit, t.editable);
    });
    const { workerCount: workers, wanted } = o;
    this.pool = new ProposalPool(
      {
        proposers,
        baseContext: () => this.contexts.base(),
        makeDiff: (head, changes) => this.files.diff(head, changes),
        record: async (body) => {
          await this.exclusive(() => this.ledger.append(body));
        },
        priorSpend: (name) => priorSpend(this.ledger, name),
        candidatesOf: (name) => candidatesOf(this.ledger.state, name),
        target: () => (wanted() ? Math.max(1, workers()) * config.swarm.prefetch : 0),
        log,
      },
      o.pool,
    );
  }

  /** Starts the proposers in the background (also done by the first proposeOne()). */
  async start(): Promise<void> {
    if (this.background) await this.pool.start();
  }

  /** Stops the proposers; proposals in progress are abandoned. */
  async close(): Promise<void> {
    await this.pool.close();
    this.admission.close();
  }

  /** The research journal for proposers (and a journal.md export). */
  journal(): string {
    return this.contexts.journal();
  }

  /** Every idea so far, oldest first; from the `from`-th on when given. */
  history(from = 0): HistoryEntry[] {
    return this.contexts.history(from);
  }

  /**
   * Takes a ready proposal and records it as a candidate; resolves to its id,
   * or null when none is ready. Never waits for a proposer (unless the intake
   * was built with `background: false`).
   */
  async proposeOne(): Promise<string | null> {
    const head = this.ledger.state.head;
    if (!this.background) {
      const item = await this.pool.proposeNow();
      return item ? this.accept(item) : null;
    }
    await this.pool.start();
    this.pool.headMoved(head);
    // Stale or refused proposals are skipped; bounded so one call stays short.
    for (let left = this.pool.stats().buffered + 8; left > 0; left--) {
      const item = this.pool.take();
      if (!item) return null;
      const id = await this.accept(item);
      if (id) return id;
    }
    return null;
  }

  /** Records one ready proposal against the current head. */
  private async accept(item: ReadyProposal): Promise<string | null> {
    const head = this.ledger.state.head;
    const usage = item.usage ?? item.proposal.usage;
    let diff = item.diff;
    if (item.head !== head) {
      // A free proposal is cheaper to make again at the new head than to carry over.
      if (!usage) return null;
      try {
        diff = await this.files.carryOver(item.diff, head);
      } catch (err) {
        await this.admission
          .refuse(
            this.admission.candidate({
              ...item.proposal,
              diff: item.diff,
              proposer: item.proposer,
              parent: item.head,
              usage,
            }),
            new ArswarmError(
              Code.Aborted,
              `made against ${item.head.slice(0, 7)}; the head moved to ${head.slice(0, 7)} and it no longer applies (${ArswarmError.from(err).message})`,
              { reason: 'stale' },
            ),
          )
          .catch(() => undefined);
        return null;
      }
    }
    return this.submit({ ...item.proposal, diff, proposer: item.proposer, parent: head, usage }).catch(
      (err: unknown) => {
        this.log(`proposal from ${item.proposer} refused: ${ArswarmError.from(err).message}`);
        return null;
      },
    );
  }

  /** Validates and records a candidate; throws the refusal (also recorded) when it is not accepted. */
  async submit(s: Submission): Promise<string> {
    const c = this.admission.candidate(s);
    try {
      this.admission.validate(c);
      await this.admission.checkSemantics(c.parentCommit, c.diff);
    } catch (err) {
      return this.admission.refuse(c, ArswarmError.from(err));
    }
    await this.ledger.append(
      { case: 'candidateProposed', value: { candidate: c } },
      dedupeIds.proposed(c.id),
    );
    return c.id;
  }

  /** Checks a diff as submit() would, recording nothing; throws the refusal. */
  precheck(parent: string, diff: string, title: string): void {
    this.admission.precheck(parent, diff, title);
  }
}
