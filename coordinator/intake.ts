/**
 * Intake: turns proposals (from any proposer, or a person) into candidates.
 * Every proposal is checked against the target's rules and refused with a
 * reason when it is invalid, a duplicate (same normalised diff, same title as
 * an idea in flight) or a near-duplicate (same effect as an idea in flight or
 * already rejected), before it can cost a GPU slot. Both outcomes are ledger
 * events.
 *
 * Proposers run in the background (see proposers/pool/); `proposeOne()`
 * only takes a ready proposal, carries it onto the current head when the
 * head moved since it was made, and records it. It never waits for a model.
 */
import { create } from '@bufbuild/protobuf';
import { CandidateSchema, CandidateState, type Candidate } from '../gen/arswarm/v1/candidate_pb.js';
import type { Config } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import { integrityRules } from '../common/integrity-config.js';
import { checkPatch, type PatchRules } from '../common/patch-check.js';
import { applySections } from '../common/python-check/apply-sections.js';
import { SemanticChecker, wantsCheck, type IntegrityRules } from '../common/python-check/index.js';
import { historyEntries, journalMarkdown, formatDelta, type HistoryEntry } from './journal.js';
import type { EventBody, Ledger } from './ledger/ledger.js';
import { IdeaIndex } from './idea-index.js';
import { diffKey, type CandidateView } from './ledger/state.js';
import { describeEffect, effectKey } from './proposers/effect.js';
import { applyUnifiedDiff, parseHunks, unifiedDiff } from './proposers/unified-diff.js';
import {
  ProposalPool,
  type BaseContext,
  type PriorSpend,
  type ReadyProposal,
} from './proposers/pool/index.js';
import type { Proposal, Proposer } from './proposers/proposer.js';
import type { FileChange, TargetRepo } from './repo.js';

export interface Submission {
  diff: string;
  title: string;
  hypothesis: string;
  proposer: string;
  parent?: string;
  usage?: Proposal['usage'];
}

export interface IntakeOptions {
  /**
   * Runs a state change in turn with the scheduler (the coordinator's serial
   * section); background proposers record their failures through it.
   * @default runs it at once
   */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Workers the proposal buffer is sized for (x swarm.prefetch). @default swarm.workers */
  workerCount?: () => number;
  /** False while no new candidates are wanted (paused, trial budget spent). @default always true */
  wanted?: () => boolean;
  /**
   * Run proposers in the background and buffer proposals ahead of need. With
   * false, proposeOne() waits for a proposer (simulations with their own clock).
   * @default true
   */
  background?: boolean;
  /** Pool timings (tests). */
  pool?: ConstructorParameters<typeof ProposalPool>[1];
  /** Interpreter of the semantic checker. @default python3 */
  python?: string;
}

export class Intake {
  readonly pool: ProposalPool;
  private readonly stageParams: Set<string>;
  private readonly rules: PatchRules;
  private readonly integrity: IntegrityRules;
  /** One python3 for every semantic check of this coordinator. */
  private readonly semantic: SemanticChecker;
  private readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  private readonly background: boolean;
  /** Recorded candidates by title and effect, for the duplicate checks. */
  private readonly ideas: IdeaIndex;
  private context?: { head: string; files: string[]; editable: string[] };
  /** File contents by `commit:path` (a commit never changes). */
  private readonly reads = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly config: Config,
    private readonly repo: TargetRepo,
    private readonly ledger: Ledger,
    proposers: Proposer[],
    private readonly log: (msg: string) => void,
    options: IntakeOptions = {},
  ) {
    this.stageParams = new Set(config.stages.flatMap((s) => Object.keys(s.env)));
    const t = config.target;
    this.rules = {
      editable: t.editable,
      locked: t.locked,
      protected: t.protected,
      maxPatchBytes: t.max_patch_bytes,
    };
    this.integrity = integrityRules(t);
    this.semantic = new SemanticChecker({ python: options.python });
    this.exclusive = options.exclusive ?? ((fn) => fn());
    this.ideas = new IdeaIndex(ledger);
    this.background = options.background ?? true;
    // A merge makes every buffered proposal stale: read the new head's editable files
    // now, off the serial section, so carrying them over needs no git.
    ledger.onEvent((ev) => {
      if (ev.body.case !== 'merged') return;
      const commit = ev.body.value.commit;
      void this.repo
        .matching(commit, t.editable)
        .then((files) => Promise.all(files.map((f) => this.readAt(commit, f))))
        .catch(() => undefined);
    });
    const workers = options.workerCount ?? (() => config.swarm.workers);
    const wanted = options.wanted ?? (() => true);
    this.pool = new ProposalPool(
      {
        proposers,
        baseContext: () => this.baseContext(),
        makeDiff: (head, changes) => this.diffOf(head, changes),
        record: (body) => this.record(body),
        priorSpend: (name) => this.priorSpend(name),
        candidatesOf: (name) => this.candidatesOf(name),
        target: () => (wanted() ? Math.max(1, workers()) * config.swarm.prefetch : 0),
        log,
      },
      options.pool,
    );
  }

  /** Starts the proposers in the background (also done by the first proposeOne()). */
  async start(): Promise<void> {
    if (this.background) await this.pool.start();
  }

  /** Stops the proposers; proposals in progress are abandoned. */
  async close(): Promise<void> {
    await this.pool.close();
    this.semantic.close();
  }

  private newId(): string {
    return `c${String(this.ledger.state.candidates.size + 1).padStart(5, '0')}`;
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
        diff = await this.carryOver(item.diff, head);
      } catch (err) {
        await this.refuse(
          this.candidate({
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
        ).catch(() => undefined);
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

  private candidate(s: Submission): Candidate {
    return create(CandidateSchema, {
      id: this.newId(),
      parentCommit: s.parent ?? this.ledger.state.head,
      diff: s.diff,
      title: s.title.trim(),
      hypothesis: s.hypothesis.trim(),
      proposer: s.proposer,
      usage: s.usage
        ? { ...s.usage, inputTokens: BigInt(s.usage.inputTokens), outputTokens: BigInt(s.usage.outputTokens) }
        : undefined,
      createdAtMs: BigInt(Date.now()),
    });
  }

  private async refuse(c: Candidate, e: ArswarmError): Promise<never> {
    await this.ledger.append({
      case: 'candidateRefused',
      value: { candidate: c, reason: e.message, code: e.reason ?? Code[e.code] },
    });
    throw e;
  }

  /** Validates and records a candidate; throws the refusal (also recorded) when it is not accepted. */
  async submit(s: Submission): Promise<string> {
    const c = this.candidate(s);
    try {
      this.validate(c);
      await this.checkSemantics(c.parentCommit, c.diff);
    } catch (err) {
      return this.refuse(c, ArswarmError.from(err));
    }
    await this.ledger.append({ case: 'candidateProposed', value: { candidate: c } }, `p.${c.id}`);
    return c.id;
  }

  /** Checks a diff as submit() would, recording nothing; throws the refusal. */
  precheck(parent: string, diff: string, title: string): void {
    this.validate({ id: '', parentCommit: parent, diff, title: title.trim() });
  }

  private validate(c: Pick<Candidate, 'id' | 'parentCommit' | 'diff' | 'title'>): void {
    if (!c.title)
      throw new ArswarmError(Code.InvalidArgument, 'a candidate needs a title', {
        field: 'title',
        reason: 'missing_title',
      });
    checkPatch(c.diff, this.rules);
    const state = this.ledger.state;
    const dup = state.diffKeys.get(diffKey(c.parentCommit, c.diff));
    if (dup) {
      const other = state.candidates.get(dup);
      throw new ArswarmError(
        Code.AlreadyExists,
        `same change as ${dup} (${other ? CandidateState[other.state].toLowerCase() : 'known'})`,
        { reason: 'duplicate', candidateId: dup },
      );
    }
    const clash = this.ideas.firstClash(c.title, effectKey(c.diff), c.id);
    if (clash?.by === 'title')
      throw new ArswarmError(
        Code.AlreadyExists,
        `an idea with the same title is in flight (${clash.v.candidate.id})`,
        {
          reason: 'duplicate_title',
          candidateId: clash.v.candidate.id,
        },
      );
    if (clash)
      throw new ArswarmError(
        Code.AlreadyExists,
        `same effect as ${clash.v.candidate.id} "${clash.v.candidate.title}" (${describeState(clash.v)}): ${describeEffect(c.diff)}`,
        { reason: 'near_duplicate', candidateId: clash.v.candidate.id },
      );
  }

  /**
   * The semantic check (docs/reliability.md) of a diff against its parent:
   * throws the broken rule (InvalidArgument, reason = the rule id, message
   * naming file and line), or FailedPrecondition (`checker_unavailable`) when python3
   * cannot check it: a patch is never admitted unchecked.
   */
  private async checkSemantics(parent: string, diff: string): Promise<void> {
    const { sections, files } = checkPatch(diff, this.rules);
    if (!wantsCheck(files, this.integrity)) return;
    const before = new Map<string, string | undefined>();
    for (const f of files) before.set(f, await this.readAt(parent, f));
    const after = applySections(sections, before);
    // Violations of one file come in line order; the first names the refusal's reason.
    await this.semantic.check(
      files.map((path) => ({ path, before: before.get(path), after: after.get(path) })),
      this.integrity,
    );
  }

  private async baseContext(): Promise<BaseContext> {
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
      readFile: (path) => this.readAt(head, path),
      readFileAt: (commit, path) => this.readAt(commit, path),
      stageParams: this.stageParams,
      rules: this.rules,
      journal: () => this.journal(),
      history: (from) => this.history(from),
      check: async (changes: FileChange[], title: string) => {
        const diff = await this.diffOf(head, changes);
        this.precheck(head, diff, title);
        await this.checkSemantics(head, diff);
        return diff;
      },
    };
  }

  /** A diff made against an older head, applied to the current one (in-process; git only for new files). */
  private async carryOver(diff: string, head: string): Promise<string> {
    const parsed = parseHunks(diff);
    if (!parsed) return this.repo.rebaseDiff(diff, head);
    const texts = new Map<string, string>();
    for (const path of parsed.keys()) {
      const t = await this.readAt(head, path);
      if (t !== undefined) texts.set(path, t);
    }
    const after = applyUnifiedDiff(diff, texts);
    return unifiedDiff([...after].map(([path, text]) => ({ path, before: texts.get(path)!, after: text })));
  }

  private readAt(commit: string, path: string): Promise<string | undefined> {
    const key = `${commit}:${path}`;
    let p = this.reads.get(key);
    if (!p) {
      if (this.reads.size > 2000) this.reads.clear();
      p = this.repo.readFile(commit, path);
      this.reads.set(key, p);
    }
    return p;
  }

  /**
   * The diff of whole-file changes against a commit, made in-process (no git,
   * no scratch-worktree lock); new files go through git, which writes their
   * headers.
   */
  private async diffOf(commit: string, changes: readonly FileChange[]): Promise<string> {
    const edits = [];
    for (const c of changes) {
      const before = await this.readAt(commit, c.path);
      if (before === undefined) return this.repo.makeDiff(commit, changes);
      edits.push({ path: c.path, before, after: c.content });
    }
    return unifiedDiff(edits);
  }

  private async record(body: EventBody): Promise<void> {
    await this.exclusive(() => this.ledger.append(body));
  }

  private candidatesOf(name: string): number {
    let n = 0;
    for (const v of this.ledger.state.candidates.values()) if (v.candidate.proposer === name) n++;
    return n;
  }

  /** Tokens and dollars a proposer spent so far, from the ledger (candidates and failed attempts). */
  private async priorSpend(name: string): Promise<PriorSpend> {
    const out: PriorSpend = { tokens: 0, dollars: 0, stopped: false };
    for (const v of this.ledger.state.candidates.values()) {
      const u = v.candidate.usage;
      if (v.candidate.proposer !== name || !u) continue;
      out.tokens += Number(u.inputTokens + u.outputTokens);
      out.dollars += u.costUsd;
    }
    // Failed attempts are not in the views; read them from the stored events.
    if (this.ledger.state.proposerFailures > 0)
      for await (const ev of this.ledger.history(1n)) {
        if (ev.body.case !== 'proposerFailed' || ev.body.value.proposer !== name) continue;
        const u = ev.body.value.usage;
        if (u) {
          out.tokens += Number(u.inputTokens + u.outputTokens);
          out.dollars += u.costUsd;
        }
        if (ev.body.value.code === 'budget_exhausted') out.stopped = true;
      }
    return out;
  }
}

function describeState(v: CandidateView): string {
  const last = [...v.verdicts].reverse().find((x) => x.n > 0);
  const state = CandidateState[v.state].toLowerCase();
  return last ? `${state}, ${last.stage} ${formatDelta(last.delta, last.sigma, last.n)}` : state;
}
