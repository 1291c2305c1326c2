/**
 * The context a proposer is given at the current head: the files and the
 * editable ones, file reads, the stage parameters it may not set, the patch
 * rules, the research journal and history of ideas, and a check that tells it
 * whether a change would be admitted before it offers it.
 */
import type { Config } from '../../common/config.js';
import { historyEntries, journalMarkdown, type HistoryEntry } from '../journal.js';
import type { Ledger } from '../ledger/ledger.js';
import type { BaseContext } from '../proposers/pool/index.js';
import type { FileChange, TargetRepo } from '../repo.js';
import type { Admission } from './admission.js';
import type { CommitFiles } from './commit-files.js';

export class ProposalContexts {
  /** Environment variables the stages set; proposers may not set them. */
  private readonly stageParams: Set<string>;
  /** The file lists of the last head asked for. */
  private context?: { head: string; files: string[]; editable: string[] };

  constructor(
    private readonly config: Config,
    private readonly repo: TargetRepo,
    private readonly ledger: Ledger,
    private readonly files: CommitFiles,
    private readonly admission: Admission,
  ) {
    this.stageParams = new Set(config.stages.flatMap((s) => Object.keys(s.env)));
  }

  /** The research journal for proposers (and a journal.md export). */
  journal(): string {
    const m = this.config.target.metric;
    return journalMarkdown(this.ledger.state, { metric: m.name, lowerIsBetter: m.direction === 'minimize' });
  }

  /** Every idea so far, oldest first; from the `from`-th on when given. */
  history(from = 0): HistoryEntry[] {
    return historyEntries(this.ledger.state, from);
  }

  /** The context at the current head (the parts that do not depend on the proposer). */
  async base(): Promise<BaseContext> {
    const head = this.ledger.state.head;
    if (this.context?.head !== head) {
      const files = await this.repo.files(head);
      this.context = { head, files, editable: await this.repo.matching(head, this.config.target.editable) };
    }
    const { files, editable } = this.context;
    return {
      head,
      files,
      editable,
      readFile: (path) => this.files.read(head, path),
      readFileAt: (commit, path) => this.files.read(commit, path),
      stageParams: this.stageParams,
      rules: this.admission.rules,
      journal: () => this.journal(),
      history: (from) => this.history(from),
      check: async (changes: FileChange[], title: string) => {
        const diff = await this.files.diff(head, changes);
        this.admission.precheck(head, diff, title);
        await this.admission.checkSemantics(head, diff);
        return diff;
      },
    };
  }
}
