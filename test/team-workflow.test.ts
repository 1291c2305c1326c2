/**
 * The team workflow on a real local swarm (nats-server child, landscape
 * workers, one-stage ladder): a candidate that waits for review gets
 * `arswarm/review/<id>` pushed to a real bare remote, a pull request opened
 * on a local HTTP server speaking GitHub's `POST /repos/{owner}/{repo}/pulls`,
 * and webhook notices posted to a local receiver (signed JSON; a Slack
 * payload to a receiver that answers 500 twice, delivered once after
 * retries). A coordinator restart re-creates nothing; approving merges,
 * notices the merge and deletes the review branch on the remote.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandidateState } from '../gen/arswarm/v1/candidate_pb.js';
import { sign } from '../coordinator/team/notifier.js';
import { knobDiff, startControlSwarm, waitFor } from './support/control-swarm.js';
import type { LocalSwarm } from './support/local-swarm.js';

interface Request {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const SECRET = 'webhook-secret-6d1e';
const GH_TOKEN = 'gh-token-3b9f0a';

describe('review branches, pull requests and webhooks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arswarm-team-'));
  const remote = join(dir, 'remote.git');
  const requests: Request[] = [];
  const logs: string[] = [];
  let server: Server;
  let swarm: LocalSwarm;
  let id = '';
  let flaky = 0;
  let pulls = 0;

  const git = (...args: string[]) =>
    execFileSync('git', ['-C', remote, ...args], { encoding: 'utf8' }).trim();
  const remoteRef = (ref: string) => git('for-each-ref', '--format=%(objectname)', ref);
  const to = (path: string) => requests.filter((r) => r.path === path);

  beforeAll(async () => {
    execFileSync('git', ['init', '-q', '--bare', remote]);
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
    writeFileSync(join(dir, 'gh-token'), `${GH_TOKEN}\n`);
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        requests.push({ path: req.url ?? '', headers: req.headers, body });
        if (req.url === '/flaky') {
          res.writeHead(++flaky <= 2 ? 500 : 200).end();
        } else if (req.url === '/api/v3/repos/acme/target/pulls') {
          // The first open creates it; any later one is GitHub's "already exists".
          res
            .writeHead(++pulls === 1 ? 201 : 422, { 'content-type': 'application/json' })
            .end(
              JSON.stringify(
                pulls === 1
                  ? { html_url: 'http://host/acme/target/pull/1' }
                  : { message: 'Validation Failed' },
              ),
            );
        } else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    swarm = await startControlSwarm({
      prefix: 'team',
      logs,
      edit: (c) => {
        c.stages = c.stages.slice(0, 1);
        c.swarm.push_remote = remote;
        c.review = {
          branches: true,
          pull_requests: {
            kind: 'github',
            api_url: `http://127.0.0.1:${port}/api/v3`,
            repo: 'acme/target',
            token_file: join(dir, 'gh-token'),
          },
        };
        c.notify = {
          webhooks: [
            {
              url: `http://127.0.0.1:${port}/json`,
              format: 'json',
              events: ['review_waiting', 'merged'],
              secret_file: join(dir, 'secret'),
            },
            { url: `http://127.0.0.1:${port}/flaky`, format: 'slack', events: ['review_waiting'] },
          ],
        };
      },
    });
    id = await swarm.coordinator.submit({
      diff: knobDiff(swarm.repoDir, 'LEARNING_RATE', '0.002'),
      title: 'a higher learning rate',
      hypothesis: 'the default learning rate is far below the optimum',
      proposer: 'human:test',
    });
    await waitFor(
      () =>
        swarm.coordinator.ledger.state.candidates.get(id)?.state === CandidateState.REVIEW ? true : undefined,
      'the candidate in review',
      60_000,
    );
  }, 90_000);

  afterAll(async () => {
    await swarm?.stop();
    await new Promise((r) => server?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('pushes arswarm/review/<id>: the diff on its parent, one commit with the evidence', async () => {
    const ref = `refs/heads/arswarm/review/${id}`;
    const sha = await waitFor(() => remoteRef(ref) || undefined, 'the review branch on the remote');
    const v = swarm.coordinator.ledger.state.candidates.get(id)!;
    expect(git('rev-parse', `${sha}^`)).toBe(v.parent);
    const message = git('log', '-1', '--format=%B', sha);
    expect(message).toContain('a higher learning rate');
    expect(message).toContain('the default learning rate is far below the optimum');
    expect(message).toMatch(/screen: Δ \d\.\d{6} ± \d\.\d{6} \(n \d+, cpu/);
    expect(message).toContain(`Arswarm-Candidate: ${id}`);
    const diff = git('diff', `${sha}^`, sha);
    expect(diff).toContain('+LEARNING_RATE = 0.002');
    expect(git('diff', '--stat', `${sha}^`, sha)).toMatch(/1 file changed/);
  });

  it('opens a pull request with the token, the branch and the base', async () => {
    const [pr] = await waitFor(
      () =>
        to('/api/v3/repos/acme/target/pulls').length ? to('/api/v3/repos/acme/target/pulls') : undefined,
      'a pull request',
    );
    expect(pr!.headers.authorization).toBe(`Bearer ${GH_TOKEN}`);
    const body = JSON.parse(pr!.body) as Record<string, string>;
    expect(body.head).toBe(`arswarm/review/${id}`);
    expect(body.base).toBe('arswarm/main');
    expect(body.title).toBe('a higher learning rate');
    expect(body.body).toContain(`arswarm review approve ${id}`);
  });

  it('posts a signed JSON notice once, and a Slack payload after two 500s', async () => {
    const [json] = await waitFor(() => (to('/json').length ? to('/json') : undefined), 'the JSON notice');
    expect(json!.headers['x-arswarm-signature']).toBe(`sha256=${sign(SECRET, json!.body)}`);
    const notice = JSON.parse(json!.body) as {
      id: string;
      kind: string;
      candidate: { id: string; ref: string; evidence: unknown[] };
    };
    expect(notice).toMatchObject({
      id: `review_waiting.${id}`,
      kind: 'review_waiting',
      candidate: { id, ref: `arswarm/review/${id}` },
    });
    expect(notice.candidate.evidence).toHaveLength(1);
    await waitFor(() => (flaky >= 3 ? true : undefined), 'the third attempt at the flaky receiver', 20_000);
    await swarm.coordinator.team!.notifier!.idle();
    const slack = to('/flaky');
    expect(slack).toHaveLength(3);
    expect(new Set(slack.map((r) => r.headers['x-arswarm-delivery']))).toEqual(
      new Set([`review_waiting.${id}`]),
    );
    const payload = JSON.parse(slack[2]!.body) as { text: string; blocks: { type: string }[] };
    expect(payload.text).toContain(`${id} "a higher learning rate" waits for review`);
    expect(payload.blocks[0]!.type).toBe('section');
    expect(to('/json')).toHaveLength(1);
    expect(swarm.coordinator.team!.notifier!.delivered).toBe(2);
  });

  it('re-creates nothing after a restart; a second pull request open is taken as done', async () => {
    const ref = `refs/heads/arswarm/review/${id}`;
    const before = remoteRef(ref);
    await swarm.coordinator.close();
    await swarm.restartCoordinator();
    await waitFor(() => (pulls >= 2 ? true : undefined), 'the second pull request open');
    await swarm.coordinator.team!.reviewBranches!.idle();
    expect(remoteRef(ref)).toBe(before);
    expect(logs.some((l) => l.includes(`pull request for ${id} exists already`))).toBe(true);
    expect(swarm.coordinator.team!.reviewBranches!.lastError).toBe('');
  }, 60_000);

  it('approving merges, notices the merge and deletes the review branch on the remote', async () => {
    await swarm.coordinator.decide(id, true, 'looks right', 'test');
    await waitFor(
      () =>
        swarm.coordinator.ledger.state.candidates.get(id)?.state === CandidateState.MERGED ? true : undefined,
      'the merge',
    );
    await waitFor(
      () => (remoteRef(`refs/heads/arswarm/review/${id}`) === '' ? true : undefined),
      'the remote review branch gone',
    );
    const merged = await waitFor(
      () =>
        to('/json')
          .map((r) => JSON.parse(r.body) as { kind: string; id: string })
          .find((n) => n.kind === 'merged'),
      'the merged notice',
    );
    expect(merged.id).toBe(`merged.${id}`);
    // Only review_waiting goes to the Slack hook, and it was not sent again after the restart.
    expect(to('/flaky')).toHaveLength(3);
  }, 60_000);
});
