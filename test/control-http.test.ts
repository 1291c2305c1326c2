/**
 * The coordinator's HTTP side against a real swarm: the JSON gateway over the
 * same ControlService (statuses for missing tokens, roles and unknown ids),
 * WatchEvents as server-sent events, Prometheus /metrics, probes, static
 * files; and a second coordinator with no tokens configured (a generated
 * admin token) serving gRPC and HTTPS with a self-signed certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlService } from '../gen/arswarm/v1/control_pb.js';
import { ArswarmError, Code } from '../common/errors.js';
import { createClient } from '../common/grpc.js';
import type { LocalSwarm } from './support/local-swarm.js';
import { knobDiff, startControlSwarm, TOKENS, waitFor } from './support/control-swarm.js';

describe('HTTP gateway, events, metrics and probes', () => {
  let swarm: LocalSwarm;
  let base: string;
  const post = (method: string, body: unknown, token?: string) =>
    fetch(`${base}/api/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    swarm = await startControlSwarm({ prefix: 'ctlhttp', workers: 1 });
    base = `http://127.0.0.1:${swarm.coordinator.httpPort}`;
    await swarm.coordinator.submit({
      diff: knobDiff(swarm.repoDir, 'LEARNING_RATE', '0.002'),
      title: 'double the learning rate',
      hypothesis: 'far below the optimum',
      proposer: 'claude',
      usage: { inputTokens: 1200, outputTokens: 300, costUsd: 0.0125, model: 'test-model' },
    });
    await waitFor(() => (swarm.coordinator.ledger.state.finished >= 4 ? true : undefined), 'four results');
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
  });

  it('answers probes', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ready\n');
  });

  it('serves the JSON gateway with protobuf JSON and the same tokens', async () => {
    const r = await post('GetStatus', {}, TOKENS.viewer);
    expect(r.status).toBe(200);
    const s = (await r.json()) as { branch: string; trialsFinished: string; stages: { name: string }[] };
    expect(s.branch).toBe('arswarm/main');
    expect(Number(s.trialsFinished)).toBeGreaterThanOrEqual(4);
    expect(s.stages.map((x) => x.name)).toEqual(['screen', 'confirm', 'scale']);
    const c = (await (await post('GetCandidate', { id: 'c00001' }, TOKENS.viewer)).json()) as {
      summary: { candidate: { usage: { inputTokens: string } } };
    };
    expect(c.summary.candidate.usage.inputTokens).toBe('1200');
  });

  it('maps refusals to HTTP statuses with the error code', async () => {
    const anon = await post('GetStatus', {});
    expect(anon.status).toBe(401);
    expect(await anon.json()).toMatchObject({ code: 'Unauthenticated', reason: 'no_token' });
    expect((await post('GetStatus', {}, 'not-a-real-token-000000')).status).toBe(401);
    const denied = await post('Pause', { reason: 'x' }, TOKENS.reviewer);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ code: 'PermissionDenied' });
    expect((await post('Approve', { id: 'c00001' }, TOKENS.viewer)).status).toBe(403);
    const missing = await post('GetCandidate', { id: 'c99999' }, TOKENS.viewer);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'NotFound', field: 'id' });
    expect((await post('NoSuchMethod', {}, TOKENS.viewer)).status).toBe(404);
    expect((await post('GetCandidate', { id: 7, bogus: true }, TOKENS.viewer)).status).toBe(400);
    const notJson = await fetch(`${base}/api/GetStatus`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.viewer}` },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
    expect(
      (await fetch(`${base}/api/GetStatus`, { headers: { authorization: `Bearer ${TOKENS.viewer}` } }))
        .status,
    ).toBe(400);
  });

  it('streams ledger events as server-sent events, from a sequence number and live', async () => {
    const denied = await fetch(`${base}/api/events`);
    expect(denied.status).toBe(401);
    const ac = new AbortController();
    const res = await fetch(`${base}/api/events?from_seq=1`, {
      headers: { authorization: `Bearer ${TOKENS.viewer}` },
      signal: ac.signal,
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    let paused = false;
    try {
      while (!text.includes('"swarmPaused"')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        // Once the replay has arrived, cause a live event.
        if (!paused && text.includes('"candidateProposed"')) {
          paused = true;
          expect((await post('Pause', { reason: 'sse test' }, TOKENS.admin)).status).toBe(200);
        }
      }
    } finally {
      ac.abort();
    }
    const first = /id: (\d+)\nevent: event\ndata: (.*)\n/.exec(text)!;
    expect(first[1]).toBe('1');
    expect(JSON.parse(first[2]!)).toMatchObject({ seq: '1', swarmStarted: { branch: 'arswarm/main' } });
    expect(text).toMatch(/"swarmPaused":\{"by":"admin","reason":"sse test"\}/);
    await post('Resume', {}, TOKENS.admin);
  });

  it('exposes Prometheus metrics', async () => {
    let res = await fetch(`${base}/metrics`);
    let text = await res.text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    // Baselines of every stage run first (highest stage first): wait for screen results.
    for (let i = 0; i < 600 && (value('arswarm_trials_total{stage="screen",status="ok"}') ?? 0) < 4; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await fetch(`${base}/metrics`);
      text = await res.text();
    }
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain('# TYPE arswarm_queue_depth gauge');
    expect(value('arswarm_queue_depth{stage="scale"}')).toBeGreaterThanOrEqual(0);
    expect(value('arswarm_trials_total{stage="screen",status="ok"}')).toBeGreaterThanOrEqual(4);
    expect(value('arswarm_best_metric{stage="screen"}')).toBeLessThan(1);
    expect(value('arswarm_worker_idle_seconds{worker="w1",gpu_class="cpu"}')).toBeGreaterThanOrEqual(0);
    expect(
      value('arswarm_workers{gpu_class="cpu",state="idle"}') ??
        value('arswarm_workers{gpu_class="cpu",state="running"}'),
    ).toBe(1);
    expect(value('arswarm_proposer_tokens_total{proposer="claude",direction="input"}')).toBe(1200);
    expect(value('arswarm_proposer_tokens_total{proposer="claude",direction="output"}')).toBe(300);
    expect(value('arswarm_proposer_cost_usd_total{proposer="claude"}')).toBeCloseTo(0.0125);
    expect(value('arswarm_candidates{state="active"}')! + value('arswarm_candidates{state="review"}')!).toBe(
      1,
    );
    expect(value('arswarm_paused')).toBe(0);
    // Every sample line is `name{labels} number`.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#')))
      expect(line).toMatch(/^arswarm_[a-z_]+(\{[^}]*\})? (-?[\d.e+-]+|NaN|[+-]Inf)$/);
  });

  it('serves the dashboard with security headers and nothing outside web/', async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await index.text()).toContain('<script type="module" src="app.js">');
    expect((await fetch(`${base}/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}/..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${base}/%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${base}/nope.js`)).status).toBe(404);
    expect((await fetch(`${base}/%E0%A4%A`)).status).toBe(404);
  });
});

describe('a coordinator with no tokens configured, serving TLS', () => {
  let swarm: LocalSwarm;
  let dir: string;
  let ca: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'arswarm-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(join(dir, 'cert.pem'));
    swarm = await startControlSwarm({
      prefix: 'ctltls',
      workers: 0,
      edit: (c) => {
        c.api.tokens = [];
        c.api.tls_cert_file = join(dir, 'cert.pem');
        c.api.tls_key_file = join(dir, 'key.pem');
      },
    });
  }, 60_000);

  afterAll(async () => {
    await swarm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('generates an admin token into the state dir, readable only by its owner', async () => {
    const g = swarm.coordinator.api.generated!;
    expect(g.file).toBe(join(swarm.stateDir, 'admin-token'));
    expect(readFileSync(g.file, 'utf8').trim()).toBe(g.token);
    expect(statSync(g.file).mode & 0o777).toBe(0o600);
    const client = createClient(ControlService, `127.0.0.1:${swarm.coordinator.grpcPort}`, {
      token: g.token,
      rootCert: ca,
    });
    try {
      expect(await client.whoAmI({})).toMatchObject({ name: 'local-admin', role: 'admin' });
      expect((await client.pause({ reason: 'tls' })).paused).toBe(true);
    } finally {
      client.close();
    }
  });

  it('refuses plaintext gRPC when TLS is on', async () => {
    const plain = createClient(ControlService, `127.0.0.1:${swarm.coordinator.grpcPort}`, {
      token: swarm.coordinator.api.generated!.token,
      timeoutMs: 3000,
    });
    try {
      await expect(plain.getStatus({})).rejects.toSatisfy(
        (e: unknown) => ArswarmError.from(e).code === Code.Unavailable,
      );
    } finally {
      plain.close();
    }
  });

  it('serves HTTPS with the same certificate', async () => {
    const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
      new Promise<{ status: number; body: string }>((ok, fail) => {
        const req = request(
          { host: '127.0.0.1', port: swarm.coordinator.httpPort, path, method, ca, headers },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', fail);
        req.end(method === 'POST' ? '{}' : undefined);
      });
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    const who = await get(
      '/api/WhoAmI',
      { authorization: `Bearer ${swarm.coordinator.api.generated!.token}` },
      'POST',
    );
    expect(who.status).toBe(200);
    expect(JSON.parse(who.body)).toEqual({ name: 'local-admin', role: 'admin' });
  });
});
