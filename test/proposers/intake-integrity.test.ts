/**
 * The intake's semantic check on a real target repo (the landscape example in
 * git, a ledger in memory, the real python3 checker): a candidate that edits
 * what the locked evaluation measured is refused before any trial exists,
 * recorded as refused with the rule, file and line, and refused again when it
 * comes back; an honest change is admitted; a missing checker refuses.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config-load.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { Intake } from '../../coordinator/intake/index.js';
import { Ledger, memoryStore } from '../../coordinator/ledger/ledger.js';
import { TargetRepo } from '../../coordinator/repo.js';
import { CandidateState } from '../../gen/arswarm/v1/candidate_pb.js';
import { ROOT } from '../support/local-swarm.js';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup(python?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-intake-integrity-'));
  dirs.push(dir);
  cpSync(join(ROOT, 'examples', 'landscape'), join(dir, 'target'), {
    recursive: true,
    filter: (p) => !p.includes('.arswarm') && !p.includes('__pycache__'),
  });
  const config = structuredClone(loadConfig(join(dir, 'target', 'arswarm.yaml')).config);
  const repo = await TargetRepo.open({
    sourceDir: join(dir, 'target'),
    stateDir: join(dir, 'state'),
    branch: 'arswarm/main',
    base: 'HEAD',
  });
  const ledger = await Ledger.open(
    memoryStore(),
    config.stages.map((s) => s.name),
  );
  await ledger.append({ case: 'swarmStarted', value: { branch: 'arswarm/main', head: await repo.head() } });
  const intake = new Intake(config, repo, ledger, [], () => undefined, { background: false, python });
  closers.push(async () => {
    await intake.close();
    await repo.close();
  });
  const head = ledger.state.head;
  const train = (await repo.readFile(head, 'train.py'))!;
  /** Submits train.py with `from` replaced by `to`; resolves to the id or the refusal. */
  const submit = async (from: string, to: string, title: string) => {
    expect(train).toContain(from);
    const diff = await repo.makeDiff(head, [{ path: 'train.py', content: train.replace(from, to) }]);
    return intake
      .submit({ diff, title, hypothesis: 'test', proposer: 'human' })
      .catch((e: unknown) => e as ArswarmError);
  };
  const refusals = () =>
    [...ledger.state.candidates.values()]
      .filter((v) => v.state === CandidateState.REFUSED)
      .map((v) => ({ title: v.candidate.title, reason: v.refusedReason }));
  return { intake, ledger, submit, refusals };
}

describe('intake: semantic patch check', () => {
  it('refuses edits of the evaluation result and of locked names with the rule and line, and admits an honest change', async () => {
    const { submit, refusals, ledger } = await setup();
    const RESULT = 'result = evaluate(constants, depth, seed)';

    // The metric adjusted after the locked evaluation returned, before the report.
    const forged = await submit(RESULT, `${RESULT}\n    result["val_bpb"] -= 0.01`, 'better metric');
    expect(forged).toBeInstanceOf(ArswarmError);
    expect((forged as ArswarmError).code).toBe(Code.InvalidArgument);
    expect((forged as ArswarmError).reason).toBe('eval-result-mutation');
    expect((forged as ArswarmError).message).toMatch(
      /^train\.py:\d+: rule eval-result-mutation: result holds the evaluation's result \(line \d+\); result\['val_bpb'\] changes it$/,
    );

    // The same edit again, later: refused again (never admitted by a second try).
    const again = await submit(RESULT, `${RESULT}\n    result["val_bpb"] -= 0.01`, 'better metric, again');
    expect(again).toBeInstanceOf(ArswarmError);
    expect(['eval-result-mutation', 'duplicate']).toContain((again as ArswarmError).reason);

    // A line added inside the frozen region (read-out to end of file).
    const VAL = '    val_bpb = result["val_bpb"]\n';
    const frozen = await submit(VAL, `${VAL}    val_bpb *= 0.99\n`, 'scale the metric');
    expect((frozen as ArswarmError).reason).toBe('frozen-region');
    expect((frozen as ArswarmError).message).toMatch(/^train\.py:\d+: rule frozen-region: /m);
    expect((frozen as ArswarmError).message).toMatch(
      /rule eval-result-mutation: val_bpb holds the evaluation's result/,
    );

    // Shadowing the locked evaluation function.
    const shadow = await submit(
      'from prepare import evaluate, run_shape, constants_of, curve\n',
      'from prepare import evaluate, run_shape, constants_of, curve\n\n\ndef evaluate(constants, depth, seed):\n    return {"val_bpb": 0.5, "diverged": False, "true_metric": 0.5}\n',
      'faster evaluation',
    );
    expect((shadow as ArswarmError).reason).toBe('locked-name-assign');
    expect((shadow as ArswarmError).message).toMatch(
      /^train\.py:\d+: rule locked-name-assign: def evaluate imported from locked prepare\.py$/,
    );

    // An honest change passes.
    const ok = await submit('LEARNING_RATE = 0.001', 'LEARNING_RATE = 0.002', 'higher rate');
    expect(typeof ok).toBe('string');
    expect(ledger.state.candidates.get(ok as string)?.state).toBe(CandidateState.ACTIVE);

    // Every refusal is recorded with its reason; nothing reached a queue.
    const r = refusals();
    expect(r.map((x) => x.title)).toEqual(
      expect.arrayContaining(['better metric', 'scale the metric', 'faster evaluation']),
    );
    expect(r.find((x) => x.title === 'better metric')?.reason).toMatch(/rule eval-result-mutation/);
  });

  it('refuses, not passes, when python3 cannot run the check', async () => {
    const { submit, refusals } = await setup('no-such-python-3');
    const err = await submit('LEARNING_RATE = 0.001', 'LEARNING_RATE = 0.002', 'higher rate');
    expect(err).toBeInstanceOf(ArswarmError);
    expect((err as ArswarmError).code).toBe(Code.FailedPrecondition);
    expect((err as ArswarmError).reason).toBe('checker_unavailable');
    expect(refusals()[0]?.reason).toMatch(/could not run \(no-such-python-3 not found\)/);
  });
});
