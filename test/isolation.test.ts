/**
 * Trial isolation (needs root, as the worker image runs): a real `arswarm
 * worker` process with credentials in its environment and in a 0600 file runs
 * an adversarial train.py (test/fixtures/adversary) that tries to read the
 * environment of every ancestor process and every credential file it can
 * find, to write into the pristine trees, the code cache and the data cache,
 * and to publish a forged result to NATS without a login and with whatever
 * it stole. With isolation on (the default as root) every attempt fails;
 * with `--trial-user none` (the control) the same script gets the worker's
 * credentials, writes the caches and publishes, so the probes can fail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../common/codec.js';
import { sha256 } from '../common/git.js';
import { writeNatsUsers } from '../common/nats-permissions.js';
import { TrialResultSchema, TrialSchema, TrialStatus, type TrialResult } from '../gen/arswarm/v1/trial_pb.js';
import { BIN, ROOT } from './support/local-swarm.js';
import { startSecuredNats, type SecuredNats } from './support/secured-nats.js';
import { ArswarmError, Code } from '../common/errors.js';
import { Worker } from '../worker/index.js';
import {
  commitFiles,
  exited,
  fakeGpuPath,
  gitIn,
  Harness,
  startCodeServer,
  until,
} from './support/worker-harness.js';

const isRoot = process.getuid?.() === 0;

/** PROBE lines of the adversary: what, where, ok|denied, detail. */
function probes(tail: string): { what: string; where: string; ok: boolean; detail: string }[] {
  return [...tail.matchAll(/^PROBE (\S+) (\S+) (ok|denied) ?(.*)$/gm)].map((m) => ({
    what: m[1]!,
    where: m[2]!,
    ok: m[3] === 'ok',
    detail: m[4]!,
  }));
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** The uid of a live process, undefined once it is gone (zombies count as gone). */
function uidOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+Z/m.test(status)) return undefined;
    return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
  } catch {
    return undefined;
  }
}

describe.runIf(isRoot)('trial isolation (as root)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-isolation-'));
  const token = 'tok-isolation-worker-0a1b2c3d4e';
  const apiKey = 'sk-ant-isolation-9f8e7d6c';
  let nats: SecuredNats;
  let code: Awaited<ReturnType<typeof startCodeServer>>;
  let head = '';
  let lockedSha = '';
  let passwordFile = '';
  const running: ChildProcess[] = [];
  /** Processes the adversary left behind (killed at the end whatever happened). */
  const escaped: number[] = [];

  beforeAll(async () => {
    // Others may enter the test dir (mkdtemp makes it 0700), as they may /var/cache in the image.
    chmodSync(dir, 0o755);
    nats = await startSecuredNats(dir, `iso${process.pid}`);
    const repo = join(dir, 'target');
    cpSync(join(ROOT, 'test', 'fixtures', 'adversary'), repo, { recursive: true });
    gitIn(dir, 'init', '-q', '-b', 'main', repo);
    head = commitFiles(repo, {}, 'adversary target');
    lockedSha = sha256(readFileSync(join(repo, 'prepare.py')));
    code = await startCodeServer(repo);
    // Credential files as `arswarm up` and the chart leave them: 0600, in a dir others may list.
    mkdirSync(join(dir, 'secrets'), { mode: 0o755 });
    passwordFile = join(dir, 'secrets', 'nats-password');
    writeFileSync(passwordFile, nats.users.worker.password, { mode: 0o600 });
    writeNatsUsers(join(dir, 'nats-users.yaml'), nats.server.url, nats.users);
    mkdirSync(join(dir, 'home'), { mode: 0o700 });
  }, 60_000);

  afterAll(async () => {
    for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const pid of escaped) killQuietly(pid);
    await Promise.all(running.map(exited));
    code?.server.forceShutdown();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Payloads on the finished-results subject: decoded results, and what did not decode (a forgery). */
  async function finished(): Promise<{ results: TrialResult[]; garbage: string[] }> {
    const out = { results: [] as TrialResult[], garbage: [] as string[] };
    const info = await nats.jsm.streams.info(nats.names.resultsStream);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await nats.jsm.streams.getMessage(nats.names.resultsStream, { seq }).catch(() => null);
      if (m?.subject !== nats.names.resultFinished) continue;
      try {
        out.results.push(decode(TrialResultSchema, m.data));
      } catch {
        out.garbage.push(Buffer.from(m.data).toString());
      }
    }
    return out;
  }

  /** Starts a worker, runs one adversary trial on it, stops it; the result, the worker's pid and its output. */
  async function runAdversary(
    id: string,
    extra: string[],
    more: { trials?: number; workerEnv?: NodeJS.ProcessEnv; trialEnv?: Record<string, string> } = {},
  ): Promise<{ r: TrialResult; rs: TrialResult[]; pid: number; output: string; workDir: string }> {
    const workDir = join(dir, `work-${id}`);
    let output = '';
    const worker = spawn(
      process.execPath,
      [
        BIN,
        'worker',
        '--nats',
        nats.server.url,
        '--nats-password-file',
        passwordFile,
        '--code',
        code.addr,
        '--prefix',
        nats.names.prefix,
        '--gpus',
        'none',
        '--work-dir',
        workDir,
        '--cache-env',
        `DATASET_CACHE=${join(dir, `data-${id}`)}`,
        '--id',
        id,
        '--heartbeat-ms',
        '200',
        ...extra,
      ],
      {
        env: {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          HOME: join(dir, 'home'),
          ARSWARM_NATS_USER: 'worker',
          ARSWARM_WORKER_TOKEN: token,
          ANTHROPIC_API_KEY: apiKey,
          ...more.workerEnv,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    running.push(worker);
    worker.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    worker.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const trialIds = Array.from({ length: more.trials ?? 1 }, (_, i) => `adv-${id}-${i}`);
    const trial = (trialId: string) => ({
      id: trialId,
      stage: { name: 'screen', index: 0, budgetSeconds: 1, timeoutSeconds: 30 },
      parentCommit: head,
      seed: 1,
      gpuClass: 'any',
      target: {
        command: 'python3 train.py',
        editable: ['train.py'],
        locked: ['prepare.py'],
        metric: 'val_bpb',
        lowerIsBetter: true,
        maxPatchBytes: 65536n,
        lockedSha256: { 'prepare.py': lockedSha },
        env: more.trialEnv ?? {},
      },
    });
    for (const t of trialIds)
      await nats.js.publish(nats.names.trials('screen'), encode(TrialSchema, trial(t)));
    const rs = await until(
      async () => {
        const done = (await finished()).results.filter((x) => trialIds.includes(x.trialId));
        return done.length === trialIds.length ? done : undefined;
      },
      40_000,
      `the results of ${trialIds.join(', ')}`,
    );
    const r = rs[0]!;
    worker.kill('SIGTERM');
    await exited(worker);
    for (const x of rs)
      for (const m of x.logTail.matchAll(/^PROBE escape (\d+) ok/gm)) escaped.push(Number(m[1]));
    return { r, rs, pid: worker.pid!, output, workDir };
  }

  it('an isolated trial reads no credential, writes no cache and cannot publish', async () => {
    const { r, pid, output, workDir } = await runAdversary('iso', []);
    expect(output).toMatch(/trial isolation on/);
    expect(r.status, r.logTail).toBe(TrialStatus.OK);
    expect(r.logTail).toContain('uid: 65534\n');
    const p = probes(r.logTail);
    // `auto`'s 65534 may belong to other daemons too: nothing of that uid is swept, the leftover stays unprivileged.
    const left = Number(p.find((x) => x.what === 'escape')?.where);
    expect(uidOf(left)).toBe(65534);
    // The worker's environment (and every other root-owned ancestor's) is closed.
    expect(p.find((x) => x.what === 'environ' && x.where === String(pid))).toMatchObject({ ok: false });
    for (const x of p.filter((y) => y.what === 'environ' && y.ok)) expect(x.detail).toBe('');
    // Credential files exist and are found, but cannot be read.
    const reads = p.filter((x) => x.what === 'read');
    expect(reads.map((x) => x.where)).toEqual(
      expect.arrayContaining([passwordFile, join(dir, 'nats-users.yaml')]),
    );
    expect(reads.filter((x) => x.ok)).toEqual([]);
    // Pristine trees cannot even be listed; the code cache and the data cache are not writable.
    expect(p.find((x) => x.what === 'list')).toMatchObject({ ok: false });
    const writes = p.filter((x) => x.what === 'write');
    expect(writes.map((x) => x.where)).toEqual([
      join(workDir, 'cache', 'repo.git', 'config'),
      join(dir, 'data-iso', 'data.bin'),
    ]);
    expect(writes.filter((x) => x.ok)).toEqual([]);
    expect(readFileSync(join(workDir, 'cache', 'repo.git', 'config'), 'utf8')).not.toContain('tampered');
    // NATS: anonymous is refused, and there was nothing to log in with.
    const pubs = p.filter((x) => x.what === 'publish');
    expect(pubs.map((x) => x.where)).toEqual(['anonymous']);
    expect(pubs[0]!.detail).toMatch(/Authorization Violation/i);
    for (const secret of [token, apiKey, nats.users.worker.password]) expect(r.logTail).not.toContain(secret);
    expect((await finished()).garbage).toEqual([]);
  }, 60_000);

  it('a given trial uid is the trials’ alone: what a trial leaves running (setsid) is killed with it', async () => {
    const { r, output } = await runAdversary('given', ['--trial-user', '64999:64999']);
    expect(output).toMatch(/trial isolation on/);
    expect(r.logTail).toContain('uid: 64999\n');
    const pid = Number(/^PROBE escape (\d+) ok/m.exec(r.logTail)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(uidOf(pid)).toBeUndefined();
    expect(output).toMatch(/killed processes the trial left outside its process group/);
    expect(
      probes(r.logTail).filter(
        (x) => x.ok && x.what !== 'escape' && !(x.what === 'environ' && x.detail === ''),
      ),
    ).toEqual([]);
  }, 60_000);

  it('a two-GPU worker gives each loop its own trial uid (base + loop), side by side', async () => {
    const { rs, output } = await runAdversary('gpus', ['--trial-user', '64990:64990', '--gpus', 'all'], {
      trials: 2,
      workerEnv: {
        PATH: `${fakeGpuPath(dir)}:/usr/local/bin:/usr/bin:/bin`,
        FAKE_NVIDIA_SMI_GPUS: '0, NVIDIA A10G, 23028 MiB, GPU-a\n1, NVIDIA A10G, 23028 MiB, GPU-b',
      },
      trialEnv: { ADV_SLEEP: '3' },
    });
    expect(output).toMatch(/"uids":\[64990,64991\]/);
    const uids = rs.map((x) => /^uid: (\d+)$/m.exec(x.logTail)?.[1]).sort();
    expect(uids).toEqual(['64990', '64991']);
    for (const x of rs) expect(x.status, x.logTail).toBe(TrialStatus.OK);
  }, 60_000);

  it('control: the same trial as the worker uid (--trial-user none) steals, writes and publishes', async () => {
    const { r, pid, output, workDir } = await runAdversary('open', ['--trial-user', 'none']);
    expect(output).toMatch(/trial isolation off: disabled/);
    expect(output).toMatch(/can read the worker's environment/);
    expect(r.status, r.logTail).toBe(TrialStatus.OK);
    const p = probes(r.logTail);
    expect(p.find((x) => x.what === 'environ' && x.where === String(pid))?.detail).toContain(
      `ARSWARM_WORKER_TOKEN=${token}`,
    );
    expect(p.find((x) => x.what === 'read' && x.where === passwordFile)).toMatchObject({ ok: true });
    expect(p.find((x) => x.what === 'list')).toMatchObject({ ok: true });
    expect(p.filter((x) => x.what === 'write' && x.ok).map((x) => x.where)).toEqual(
      expect.arrayContaining([
        join(workDir, 'cache', 'repo.git', 'config'),
        join(dir, 'data-open', 'data.bin'),
      ]),
    );
    expect(p.filter((x) => x.what === 'publish' && x.ok).map((x) => x.where)).toContain('worker');
    // The forgery really reached the results stream.
    expect((await finished()).garbage).toContain('forged');
  }, 60_000);
});

describe.runIf(isRoot)('a work dir the trial uid cannot reach (as root)', () => {
  // The harness dir is mkdtemp's 0700: closed to every other uid.
  const h = new Harness();
  beforeAll(async () => {
    await h.start();
  }, 60_000);
  afterAll(async () => {
    await h.stop();
  });

  const worker = (trialUser: 'auto' | { uid: number; gid: number }, id: string) =>
    new Worker({
      natsUrl: h.nats.url,
      codeAddr: h.codeAddr,
      prefix: h.names.prefix,
      gpus: 'none',
      workDir: join(h.dir, id),
      id,
      trialUser,
      logger: () => undefined,
    });

  it('stops a worker given a trial uid, naming the closed directory', async () => {
    const w = worker({ uid: 64980, gid: 64980 }, 'given');
    const err = await w.start().then(
      () => undefined,
      (e: unknown) => ArswarmError.from(e),
    );
    await w.close();
    expect(err?.code).toBe(Code.FailedPrecondition);
    expect(err?.message).toContain(
      `uid 64980 cannot reach ${join(h.dir, 'given', 'trials')}: ${h.dir} (mode 700`,
    );
  });

  it('under auto runs trials as the worker and says why', async () => {
    const w = worker('auto', 'auto');
    await w.start();
    try {
      expect(w.isolation).toEqual({ off: expect.stringContaining(`uid 65534 cannot reach`) });
    } finally {
      await w.close();
    }
  });
});
