/**
 * Recorded candidates by lower-cased title and by effect key, in ledger
 * order, so the intake's duplicate checks look at the few candidates that
 * could match instead of walking every candidate per submission (that walk
 * grew with the ledger: 15% of the coordinator's time at 200 results/s and
 * 6,000 candidates). Kept current from ledger events.
 */
import { CandidateState, type Candidate } from '../gen/arswarm/v1/candidate_pb.js';
import type { Ledger } from './ledger/ledger.js';
import type { CandidateView } from './ledger/state.js';
import { effectKey } from './proposers/effect.js';

/** States whose ideas a near-duplicate may not repeat: in flight, or tried and failed. */
export const NEAR_DUP_STATES: ReadonlySet<CandidateState> = new Set([
  CandidateState.ACTIVE,
  CandidateState.REVIEW,
  CandidateState.REJECTED,
  CandidateState.CRASHED,
]);

/** An earlier candidate an idea repeats: an active one with its title, or one with its effect. */
export interface Clash {
  v: CandidateView;
  by: 'title' | 'effect';
}

export class IdeaIndex {
  /** Ledger position of each candidate. */
  private readonly position = new Map<string, number>();
  private readonly byTitle = new Map<string, string[]>();
  private readonly byEffect = new Map<string, string[]>();

  /** Built on first use, so a restart does not parse every recorded diff before it serves. */
  private built = false;

  constructor(private readonly ledger: Ledger) {
    ledger.onEvent((ev) => {
      const b = ev.body;
      if (this.built && (b.case === 'candidateProposed' || b.case === 'candidateRefused'))
        this.add(b.value.candidate!);
    });
  }

  private add(c: Candidate): void {
    if (this.position.has(c.id)) return;
    this.position.set(c.id, this.position.size);
    push(this.byTitle, c.title.toLowerCase(), c.id);
    const effect = effectKey(c.diff);
    if (effect) push(this.byEffect, effect, c.id);
  }

  /**
   * The earliest candidate (other than `selfId`) that an idea with this title
   * and effect repeats; the title wins when one candidate matches both.
   */
  firstClash(title: string, effect: string, selfId: string): Clash | undefined {
    const state = this.ledger.state;
    if (!this.built) {
      for (const v of state.candidates.values()) this.add(v.candidate);
      this.built = true;
    }
    const first = (ids: readonly string[] | undefined, ok: (v: CandidateView) => boolean) => {
      for (const id of ids ?? []) {
        const v = state.candidates.get(id);
        if (v && id !== selfId && ok(v)) return v;
      }
      return undefined;
    };
    const t = first(this.byTitle.get(title.toLowerCase()), (v) => v.state === CandidateState.ACTIVE);
    const e = effect ? first(this.byEffect.get(effect), (v) => NEAR_DUP_STATES.has(v.state)) : undefined;
    if (t && (!e || this.position.get(t.candidate.id)! <= this.position.get(e.candidate.id)!))
      return { v: t, by: 'title' };
    return e && { v: e, by: 'effect' };
  }
}

function push(m: Map<string, string[]>, key: string, id: string): void {
  const list = m.get(key);
  if (list) list.push(id);
  else m.set(key, [id]);
}
