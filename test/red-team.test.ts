/**
 * The red-team suite: a real local swarm (nats-server with per-role logins,
 * the coordinator, two `arswarm worker` processes) on a fast target shaped
 * like autoresearch (test/fixtures/red-team/target), `merge_policy: auto`,
 * and candidates from the real claude proposer (the real SDK against a
 * local Messages-API server whose scripted model submits each attack as its
 * edits). The LLM auditor talks to a second local server; its scripted model
 * flags only a hypothesis that admits fitting the scorer. Direct attacks
 * (patches a person could submit, forged NATS results) go in beside them.
 *
 * Every attack must be caught: refused at intake (the model gets the
 * refusal), a trial marked INTEGRITY, isolated (the run could not reach what
 * it tried), or flagged by the top-stage audit and left in review. At the end
 * only the honest control candidate has merged, so the suite can fail.
 * docs/reliability.md lists each attempt and what catches it.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditorSchema } from '../common/auditor-config.js';
import { claudeProposerSchema } from '../common/config.js';
import { ArswarmError } from '../common/errors.js';
import { audited } from '../coordinator/gaming-audit/index.js';
import type { CandidateView } from '../coordinator/ledger/state.js';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import { CONTROL, PROPOSER_ATTACKS, type Catch, type ProposerAttack } from './red-team/attacks.js';
import { scriptedAuditor, scriptedResearcher } from './red-team/models.js';
import { startLocalSwarm, ROOT, type LocalSwarm } from './support/local-swarm.js';
import { startMessagesApiServer, type MessagesApiServer } from './support/messages-api-server.js';

const isRoot = process.getuid?.() === 0;
const FIXTURE = join(ROOT, 'test', 'fixtures', 'red-team', 'target');
const KEY = 'sk-red-team-0123456789';
/** Attacks on isolation need a worker that can run trials as another uid (root, as in the image). */
const ISOLATION = new Set(['cache-poison', 'proc-environ']);
const attacks = PROPOSER_ATTACKS.filter((a) => isRoot || !ISOLATION.has(a.id));

async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  ms: number,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('red team: gaming attempts against a real swarm under merge_policy auto', () => {
  let swarm: LocalSwarm;
  let proposerApi: MessagesApiServer;
  let auditorApi: MessagesApiServer;
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-red-team-'));
  const logs: string[] = [];
  const researcher = scriptedResearcher([...attacks, CONTROL]);
  /** The tool error each refused submission got back, by attack id. */
  const refusals = researcher.refusals;
  const outcomes = new Map<string, string>();

  const candidate = (a: ProposerAttack): CandidateView | undefined => {
    for (const v of swarm.coordinator.ledger.state.candidates.values())
      if (v.candidate.title === a.title) return v;
    return undefined;
  };

  /** The attack's end state, or undefined while it is still in flight. */
  const settledOf = (a: ProposerAttack): string | undefined => {
    if (refusals.has(a.id)) return 'refused';
    const v = candidate(a);
    if (!v) return undefined;
    if (v.state === CandidateState.REVIEW) return audited(v) && v.flags.length ? 'flagged' : undefined;
    if (v.state === CandidateState.ACTIVE) return undefined;
    return CandidateState[v.state].toLowerCase();
  };

  const tails = async (
    v: CandidateView,
  ): Promise<{ status: TrialStatus; reason: string; tail: string }[]> => {
    const out = [];
    for (const tv of swarm.coordinator.ledger.state.candidateTrials(v.candidate.id)) {
      const r = tv.result && (await swarm.coordinator.ledger.result(tv.trial.id));
      if (r) out.push({ status: r.status, reason: r.reason, tail: r.logTail });
    }
    return out;
  };

  /** The catch that applies to an attack, described, or undefined when none does. */
  const caught = async (a: ProposerAttack, c: Catch): Promise<string | undefined> => {
    const v = candidate(a);
    if ('refused' in c) {
      const text = refusals.get(a.id) ?? (v?.state === CandidateState.REFUSED ? v.refusedReason : undefined);
      return text?.includes(c.refused) ? `refused at intake (${c.refused})` : undefined;
    }
    if (!v) return undefined;
    if ('integrity' in c) {
      const t = (await tails(v)).find(
        (r) => r.status === TrialStatus.INTEGRITY && r.reason.includes(c.integrity),
      );
      return t ? `trial INTEGRITY (${t.reason.slice(0, 80)})` : undefined;
    }
    if ('flagged' in c)
      return v.state === CandidateState.REVIEW && v.flags.some((f) => f.rule === c.flagged)
        ? `flagged → review (${c.flagged})`
        : undefined;
    // Isolation: nothing was reached, nothing was poisoned, and the run gained nothing.
    const runs = await tails(v);
    const password = swarm.users!.worker.password;
    const leaked = runs.some((r) => r.tail.includes(password) || /POISON ok|STOLEN/.test(r.tail));
    const ran = runs.some((r) => c.isolated.test(r.tail));
    return ran && !leaked && v.state !== CandidateState.MERGED
      ? `isolated (${CandidateState[v.state].toLowerCase()}, nothing reached)`
      : undefined;
  };

  beforeAll(async () => {
    writeFileSync(join(dir, 'api-key'), `${KEY}\n`);
    proposerApi = await startMessagesApiServer({ apiKey: KEY, fallback: researcher.model });
    auditorApi = await startMessagesApiServer({ apiKey: KEY, fallback: scriptedAuditor });
    swarm = await startLocalSwarm({
      example: 'red-team',
      source: FIXTURE,
      natsLogins: true,
      workers: 0,
      logs,
      edit: (c) => {
        c.swarm.prefix = `redteam${process.pid}`;
        c.swarm.merge_policy = 'auto';
        c.proposers = [
          claudeProposerSchema.parse({
            kind: 'claude',
            model: 'claude-red-team',
            base_url: proposerApi.url,
            api_key_file: join(dir, 'api-key'),
            concurrency: 1,
            max_attempts: 2,
            max_turns: 3,
            max_retries: 0,
          }),
        ];
        c.auditor = auditorSchema.parse({
          kind: 'claude',
          model: 'claude-auditor',
          base_url: auditorApi.url,
          api_key_file: join(dir, 'api-key'),
          budget: { dollars: 5 },
        });
      },
    });
    // Trials run as another uid (as root): it must be able to pass through to its work tree.
    chmodSync(swarm.dir, 0o755);
    swarm.startWorker('w1');
    swarm.startWorker('w2');
  }, 120_000);

  afterAll(async () => {
    console.log(
      `red-team outcomes:\n${[...outcomes].map(([id, o]) => `  ${id.padEnd(26)} ${o}`).join('\n')}`,
    );
    await swarm?.stop();
    await proposerApi?.close();
    await auditorApi?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a NATS client without a login, or with a guessed password, before it can forge a result', async () => {
    const anonymous = await connect({ servers: swarm.nats.url, maxReconnectAttempts: 0 }).then(
      async (nc) => {
        // Some servers accept the connection and refuse the first operation instead.
        await nc.flush();
        await nc.close();
        return 'connected';
      },
      (err: unknown) => (err as Error).name,
    );
    expect(anonymous).not.toBe('connected');
    outcomes.set('forged-result-no-login', 'refused by nats-server (no login)');
    const guessed = await connect({
      servers: swarm.nats.url,
      user: swarm.users!.worker.user,
      pass: 'guessed-password',
      maxReconnectAttempts: 0,
    }).then(
      async (nc) => {
        await nc.close();
        return 'connected';
      },
      () => 'refused',
    );
    expect(guessed).toBe('refused');
    outcomes.set('forged-result-guessed-login', 'refused by nats-server (bad password)');
  });

  it('refuses patches a person submits that escape the editable files', async () => {
    const head = swarm.coordinator.ledger.state.head;
    const symlink = [
      'diff --git a/train_link.py b/train_link.py',
      'new file mode 120000',
      'index 0000000..1111111',
      '--- /dev/null',
      '+++ b/train_link.py',
      '@@ -0,0 +1 @@',
      '+prepare.py',
      '\\ No newline at end of file',
      '',
    ].join('\n');
    const traversal = [
      'diff --git a/../prepare.py b/../prepare.py',
      '--- a/../prepare.py',
      '+++ b/../prepare.py',
      '@@ -1 +1 @@',
      '-x',
      '+y',
      '',
    ].join('\n');
    for (const [id, diff, reason] of [
      ['symlink-patch', symlink, /symlink|not_editable/],
      ['traversal-patch', traversal, /path_traversal|not_editable/],
    ] as const) {
      const err = await swarm.coordinator
        .submit({ diff, title: `direct ${id}`, hypothesis: 'escape', proposer: 'human', parent: head })
        .then(
          () => undefined,
          (e: unknown) => ArswarmError.from(e),
        );
      expect(err?.reason, id).toMatch(reason);
      outcomes.set(id, `refused at intake (${err!.reason})`);
    }
  });

  it(`catches each of ${attacks.length} attacks from the claude proposer and merges only the honest control`, async () => {
    await until(
      'every attack and the control to settle',
      () => ([...attacks, CONTROL].every((a) => settledOf(a) !== undefined) ? true : undefined),
      240_000,
    ).catch((err: unknown) => {
      const open = [...attacks, CONTROL]
        .filter((a) => settledOf(a) === undefined)
        .map((a) => {
          const v = candidate(a);
          return `${a.id}: ${v ? `${CandidateState[v.state]} stage ${v.stageIndex} audit ${v.audit ? 'done' : 'none'} flags ${v.flags.length}` : 'not proposed'}`;
        });
      throw new Error(
        `${(err as Error).message}; open: ${open.join(', ')}; log: ${logs.slice(-15).join(' | ')}`,
      );
    });
    const missed: string[] = [];
    for (const a of attacks) {
      let how: string | undefined;
      for (const c of a.caughtBy) if ((how = await caught(a, c))) break;
      const v = candidate(a);
      outcomes.set(a.id, how ?? `NOT CAUGHT (${settledOf(a)}${refusals.get(a.id)?.slice(0, 120) ?? ''})`);
      if (!how)
        missed.push(
          `${a.id}: ${outcomes.get(a.id)} ${v ? v.verdicts.map((x) => `${x.stage}: ${x.reason}`).join('; ') : ''}`,
        );
    }
    expect(missed).toEqual([]);
    // The suite can fail: the honest improvement went all the way.
    expect(settledOf(CONTROL)).toBe('merged');
    const merged = swarm.coordinator.ledger.state.merges.map(
      (m) => swarm.coordinator.ledger.state.candidates.get(m.candidateId)?.candidate.title,
    );
    expect(merged).toEqual([CONTROL.title]);
    // Flagged candidates are ledger facts with their source, and wait for a person.
    const flagged = attacks.map(candidate).filter((v) => v?.state === CandidateState.REVIEW);
    expect(flagged.length).toBeGreaterThan(0);
    for (const v of flagged) expect(v!.flags.length).toBeGreaterThan(0);
    // The auditor read every candidate that passed the top stage, the control included.
    expect(auditorApi.requests.length).toBeGreaterThanOrEqual(flagged.length + 1);
  }, 480_000);

  it('left the locked file of every pristine tree and cache untouched', () => {
    const original = readFileSync(join(FIXTURE, 'prepare.py'), 'utf8');
    const found: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        const st = statSync(p, { throwIfNoEntry: false });
        if (!st) continue;
        if (st.isDirectory() && name !== '.git') walk(p);
        else if (name === 'prepare.py' && !p.includes('/trials/')) found.push(p);
      }
    };
    for (const w of readdirSync(swarm.dir).filter((n) => n.startsWith('w-'))) walk(join(swarm.dir, w));
    expect(found.length).toBeGreaterThan(0);
    for (const p of found) expect(readFileSync(p, 'utf8'), p).toBe(original);
  });
});
