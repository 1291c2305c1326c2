/**
 * Grows a swarm's ledger to a given number of trials quickly, for the restart
 * measurement: the events of candidates that ended (rejected or crashed) in
 * the live run are copied under new candidate and trial ids, real proto
 * messages appended straight to the events stream with pipelined publishes.
 * The copies have the live run's mix of stages, replicates and verdicts and
 * its message sizes.
 */
import { clone } from '@bufbuild/protobuf';
import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import { encode } from '../../common/codec.js';
import type { Names } from '../../common/subjects.js';
import { replay } from '../../coordinator/index.js';
import { VerdictKind } from '../../gen/arswarm/v1/candidate_pb.js';
import { EventSchema, type Event } from '../../gen/arswarm/v1/event_pb.js';

/** Trials and events of a ledger. */
export interface LedgerCounts {
  trials: number;
  events: number;
  bytes: number;
  candidates: number;
}

/** Reads the whole ledger. */
export async function readLedger(js: JetStreamClient, jsm: JetStreamManager, n: Names): Promise<Event[]> {
  const out: Event[] = [];
  for await (const ev of replay(js, jsm, n)) out.push(ev);
  return out;
}

/** Distinct trials (queued or adopted from a result) and candidates in a list of events. */
export function countTrials(events: readonly Event[]): { trials: number; candidates: number } {
  const trials = new Set<string>();
  const candidates = new Set<string>();
  for (const ev of events) {
    const b = ev.body;
    if (b.case === 'trialQueued') trials.add(b.value.trial!.id);
    else if (b.case === 'trialFinished') trials.add(b.value.result!.trialId);
    else if (b.case === 'candidateProposed' || b.case === 'candidateRefused')
      candidates.add(b.value.candidate!.id);
  }
  return { trials: trials.size, candidates: candidates.size };
}

/** The events of each candidate that ended with a reject or crash verdict, in ledger order. */
function endedCandidates(events: readonly Event[]): Event[][] {
  const byCandidate = new Map<string, Event[]>();
  const trialOwner = new Map<string, string>();
  const ended = new Set<string>();
  const add = (cid: string, ev: Event) => byCandidate.get(cid)?.push(ev);
  for (const ev of events) {
    const b = ev.body;
    switch (b.case) {
      case 'candidateProposed':
        byCandidate.set(b.value.candidate!.id, [ev]);
        break;
      case 'trialQueued':
        if (b.value.trial!.candidateId) {
          trialOwner.set(b.value.trial!.id, b.value.trial!.candidateId);
          add(b.value.trial!.candidateId, ev);
        }
        break;
      case 'trialStarted': {
        const cid = trialOwner.get(b.value.trialId);
        if (cid) add(cid, ev);
        break;
      }
      case 'trialFinished': {
        const cid = trialOwner.get(b.value.result!.trialId);
        if (cid) add(cid, ev);
        break;
      }
      case 'verdict':
        add(b.value.candidateId, ev);
        if (b.value.kind === VerdictKind.REJECT || b.value.kind === VerdictKind.CRASHED)
          ended.add(b.value.candidateId);
        break;
      case 'candidateRebased':
      case 'merged':
      case 'reviewDecided':
        // Their copies would need branch commits: leave these candidates out.
        byCandidate.delete(b.value.candidateId);
        break;
      default:
        break;
    }
  }
  return [...byCandidate.entries()].filter(([id]) => ended.has(id)).map(([, evs]) => evs);
}

/** A copy of a candidate's events under a new candidate id. */
function renamed(group: readonly Event[], from: string, to: string): Event[] {
  const tid = (id: string) => (id.startsWith(`${from}.`) ? `${to}${id.slice(from.length)}` : id);
  return group.map((orig) => {
    const ev = clone(EventSchema, orig);
    ev.seq = 0n;
    const b = ev.body;
    switch (b.case) {
      case 'candidateProposed':
        b.value.candidate!.id = to;
        b.value.candidate!.title = `${b.value.candidate!.title} (${to})`;
        break;
      case 'trialQueued':
        b.value.trial!.id = tid(b.value.trial!.id);
        b.value.trial!.candidateId = to;
        break;
      case 'trialStarted':
        b.value.trialId = tid(b.value.trialId);
        break;
      case 'trialFinished': {
        const r = b.value.result!;
        r.trialId = tid(r.trialId);
        if (r.trial) {
          r.trial.id = tid(r.trial.id);
          r.trial.candidateId = to;
        }
        break;
      }
      case 'verdict':
        b.value.candidateId = to;
        b.value.trialIds = b.value.trialIds.map(tid);
        break;
      default:
        break;
    }
    return ev;
  });
}

/**
 * Appends copies of ended candidates until the ledger holds at least
 * `targetTrials` trials. Resolves to how many trials it added.
 */
export async function fillLedger(
  js: JetStreamClient,
  names: Names,
  events: readonly Event[],
  targetTrials: number,
  log: (msg: string) => void = () => undefined,
): Promise<number> {
  const have = countTrials(events).trials;
  if (have >= targetTrials) return 0;
  const groups = endedCandidates(events);
  if (groups.length === 0) throw new Error('the live run ended no candidate: nothing to copy');
  let next = 0;
  for (const ev of events)
    if (ev.body.case === 'candidateProposed' || ev.body.case === 'candidateRefused') {
      const n = Number(ev.body.value.candidate!.id.replace(/^c/, ''));
      if (Number.isFinite(n)) next = Math.max(next, n);
    }
  let added = 0;
  let i = 0;
  const inflight: Promise<PubAck>[] = [];
  const window = 2000;
  let lastLog = Date.now();
  while (have + added < targetTrials) {
    const group = groups[i++ % groups.length]!;
    const from = (group[0]!.body.value as { candidate: { id: string } }).candidate.id;
    const to = `c${String(++next).padStart(5, '0')}`;
    for (const ev of renamed(group, from, to)) {
      if (ev.body.case === 'trialQueued') added++;
      inflight.push(js.publish(names.events, encode(EventSchema, ev)));
      if (inflight.length >= window) await Promise.all(inflight.splice(0, window / 2));
    }
    if (Date.now() - lastLog > 5000) {
      log(`ledger: ${have + added} trials`);
      lastLog = Date.now();
    }
  }
  await Promise.all(inflight);
  return added;
}

/** Messages and bytes of the events stream. */
export async function eventsStreamSize(
  jsm: JetStreamManager,
  names: Names,
): Promise<{ events: number; bytes: number }> {
  const info = await jsm.streams.info(names.eventsStream);
  return { events: info.state.messages, bytes: info.state.bytes };
}
