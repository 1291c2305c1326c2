/**
 * Intake: turns proposals (from any proposer, or a person) into candidates.
 * Every proposal is checked against the target's rules and refused with a
 * reason when it is invalid or a duplicate of an idea already tried or in
 * flight, before it can cost a GPU slot. Both outcomes are ledger events.
 */
import { create } from '@bufbuild/protobuf';
import { CandidateSchema, CandidateState, type Candidate } from '../gen/arswarm/v1/candidate_pb.js';
import type { Config } from '../common/config.js';
import { ArswarmError, Code } from '../common/errors.js';
import { checkPatch } from '../common/patch-check.js';
import type { Ledger } from './ledger/ledger.js';
import { diffKey } from './ledger/state.js';
import type { Proposal, Proposer } from './proposers/proposer.js';
import type { TargetRepo } from './repo.js';

export interface Submission {
  diff: string;
  title: string;
  hypothesis: string;
  proposer: string;
  parent?: string;
  usage?: Proposal['usage'];
}

export class Intake {
  private next = 0;
  private readonly stageParams: Set<string>;

  constructor(
    private readonly config: Config,
    private readonly repo: TargetRepo,
    private readonly ledger: Ledger,
    private readonly proposers: Proposer[],
    private readonly log: (msg: string) => void,
  ) {
    this.stageParams = new Set(config.stages.flatMap((s) => Object.keys(s.env)));
  }

  private newId(): string {
    return `c${String(this.ledger.state.candidates.size + 1).padStart(5, '0')}`;
  }

  /** Asks the next proposer for an idea; resolves to the accepted candidate id, or null. */
  async proposeOne(): Promise<string | null> {
    if (this.proposers.length === 0) return null;
    for (let tries = 0; tries < this.proposers.length; tries++) {
      const p = this.proposers[this.next++ % this.proposers.length]!;
      const head = this.ledger.state.head;
      let proposal: Proposal | null;
      try {
        proposal = await p.propose({
          head,
          editable: await this.repo.matching(head, this.config.target.editable),
          readFile: (path) => this.repo.readFile(head, path),
          stageParams: this.stageParams,
        });
      } catch (err) {
        const e = ArswarmError.from(err);
        await this.ledger.append({
          case: 'proposerFailed',
          value: { proposer: p.name, reason: e.message, code: Code[e.code] },
        });
        continue;
      }
      if (!proposal) continue;
      const diff = await this.repo.makeDiff(head, proposal.changes);
      const id = await this.submit({ ...proposal, diff, proposer: p.name, parent: head }).catch(
        (err: unknown) => {
          this.log(`proposal from ${p.name} refused: ${ArswarmError.from(err).message}`);
          return null;
        },
      );
      if (id) return id;
    }
    return null;
  }

  /** Validates and records a candidate; throws the refusal (also recorded) when it is not accepted. */
  async submit(s: Submission): Promise<string> {
    const parent = s.parent ?? this.ledger.state.head;
    const c: Candidate = create(CandidateSchema, {
      id: this.newId(),
      parentCommit: parent,
      diff: s.diff,
      title: s.title.trim(),
      hypothesis: s.hypothesis.trim(),
      proposer: s.proposer,
      usage: s.usage
        ? { ...s.usage, inputTokens: BigInt(s.usage.inputTokens), outputTokens: BigInt(s.usage.outputTokens) }
        : undefined,
      createdAtMs: BigInt(Date.now()),
    });
    try {
      this.validate(c);
    } catch (err) {
      const e = ArswarmError.from(err);
      await this.ledger.append({
        case: 'candidateRefused',
        value: { candidate: c, reason: e.message, code: e.reason ?? Code[e.code] },
      });
      throw e;
    }
    await this.ledger.append({ case: 'candidateProposed', value: { candidate: c } }, `p.${c.id}`);
    return c.id;
  }

  private validate(c: Candidate): void {
    if (!c.title)
      throw new ArswarmError(Code.InvalidArgument, 'a candidate needs a title', {
        field: 'title',
        reason: 'missing_title',
      });
    const t = this.config.target;
    checkPatch(c.diff, {
      editable: t.editable,
      locked: t.locked,
      protected: t.protected,
      maxPatchBytes: t.max_patch_bytes,
    });
    const state = this.ledger.state;
    const dup = state.diffKeys.get(diffKey(c.parentCommit, c.diff));
    if (dup) {
      const other = state.candidates.get(dup);
      throw new ArswarmError(
        Code.AlreadyExists,
        `same change as ${dup} (${other ? CandidateState[other.state].toLowerCase() : 'known'})`,
        {
          reason: 'duplicate',
          candidateId: dup,
        },
      );
    }
    for (const v of state.candidates.values())
      if (v.state === CandidateState.ACTIVE && v.candidate.title.toLowerCase() === c.title.toLowerCase())
        throw new ArswarmError(
          Code.AlreadyExists,
          `an idea with the same title is in flight (${v.candidate.id})`,
          {
            reason: 'duplicate_title',
            candidateId: v.candidate.id,
          },
        );
  }
}
