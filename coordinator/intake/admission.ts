/**
 * Admission of a proposal: every candidate is checked against the target's
 * rules and refused with a reason when it is invalid, a duplicate (same
 * normalised diff, same title as an idea in flight), a near-duplicate (same
 * effect as an idea in flight or already rejected) or breaks a semantic rule,
 * before it can cost a GPU slot. A refusal is a ledger event.
 */
import { create } from '@bufbuild/protobuf';
import { CandidateSchema, CandidateState, type Candidate } from '../../gen/arswarm/v1/candidate_pb.js';
import type { Config } from '../../common/config.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { ledgerCode } from '../../common/error-wire.js';
import { integrityRules } from '../../common/integrity-config.js';
import { applyTexts, checkPatch, type PatchRules } from '../../common/diff/index.js';
import { SemanticChecker, wantsCheck, type IntegrityRules } from '../../common/python-check/index.js';
import { formatDelta } from '../journal.js';
import type { Ledger } from '../ledger/ledger.js';
import { IdeaIndex } from '../idea-index.js';
import { diffKey, type CandidateView } from '../ledger/state.js';
import { describeEffect, effectKey } from '../proposers/effect.js';
import type { Proposal } from '../proposers/proposer.js';
import type { CommitFiles } from './commit-files.js';

/** A proposal as the intake takes it, from a proposer or a person. */
export interface Submission {
  diff: string;
  title: string;
  hypothesis: string;
  proposer: string;
  parent?: string;
  usage?: Proposal['usage'];
}

/** The fields of a candidate the checks look at. */
type Checked = Pick<Candidate, 'id' | 'parentCommit' | 'diff' | 'title'>;

export class Admission {
  readonly rules: PatchRules;
  private readonly integrity: IntegrityRules;
  /** One python3 for every semantic check of this coordinator. */
  private readonly semantic: SemanticChecker;
  /** Recorded candidates by title and effect, for the duplicate checks. */
  private readonly ideas: IdeaIndex;

  constructor(
    private readonly ledger: Ledger,
    target: Config['target'],
    private readonly files: CommitFiles,
    python?: string,
  ) {
    this.rules = {
      editable: target.editable,
      locked: target.locked,
      protected: target.protected,
      maxPatchBytes: target.max_patch_bytes,
    };
    this.integrity = integrityRules(target);
    this.semantic = new SemanticChecker({ python });
    this.ideas = new IdeaIndex(ledger);
  }

  /** Stops the semantic checker. */
  close(): void {
    this.semantic.close();
  }

  /** A new candidate (with the next id) from a submission; records nothing. */
  candidate(s: Submission): Candidate {
    return create(CandidateSchema, {
      id: `c${String(this.ledger.state.candidates.size + 1).padStart(5, '0')}`,
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

  /** Records the refusal of a candidate, then throws it. */
  async refuse(c: Candidate, e: ArswarmError): Promise<never> {
    const w = e.toWire();
    await this.ledger.append({
      case: 'candidateRefused',
      value: { candidate: c, reason: w.message, code: ledgerCode(w), hint: w.hint ?? '' },
    });
    throw e;
  }

  /** Checks a diff as submit() would, recording nothing; throws the refusal. */
  precheck(parent: string, diff: string, title: string): void {
    this.validate({ id: '', parentCommit: parent, diff, title: title.trim() });
  }

  /** The rule checks and duplicate checks; throws the refusal. */
  validate(c: Checked): void {
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
  async checkSemantics(parent: string, diff: string): Promise<void> {
    const { sections, files } = checkPatch(diff, this.rules);
    if (!wantsCheck(files, this.integrity)) return;
    const before = new Map<string, string | undefined>();
    for (const f of files) before.set(f, await this.files.read(parent, f));
    const after = applyTexts(sections, before);
    // Violations of one file come in line order; the first names the refusal's reason.
    await this.semantic.check(
      files.map((path) => ({ path, before: before.get(path), after: after.get(path) })),
      this.integrity,
    );
  }
}

function describeState(v: CandidateView): string {
  const last = [...v.verdicts].reverse().find((x) => x.n > 0);
  const state = CandidateState[v.state].toLowerCase();
  return last ? `${state}, ${last.stage} ${formatDelta(last.delta, last.sigma, last.n)}` : state;
}
