/**
 * The Kubernetes scaler against a local HTTPS stand-in of the Kubernetes API.
 *
 * This is a stand-in, not a cluster: no kube-apiserver can run on this
 * machine, so a small node:https server answers the few endpoints the scaler
 * uses (Deployment read, `scale` subresource read and replace) the way the
 * API server does, and records what the real @kubernetes/client-node sends:
 * path, verb, body and the Authorization header. The client is configured
 * from a real kubeconfig file (CA data, bearer token, context namespace).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArswarmError, Code } from '../../common/errors.js';
import {
  createKubernetesScaler,
  kubernetesScalerOptionsFromEnv,
  parseWorkerDeployments,
  type KubernetesScalerOptions,
} from './index.js';

const TOKEN = 'standin-service-account-token';
const NS = 'research';

interface Recorded {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

interface FakeDeployment {
  replicas: number;
  ready: number;
  resourceVersion: number;
}

/** The stand-in's state and switches. */
class StandIn {
  readonly requests: Recorded[] = [];
  deployments = new Map<string, FakeDeployment>();
  /** Deployments whose scale subresource answers 403 (as RBAC would). */
  forbidden = new Set<string>();
  /** Times someone else changes the count between a client's read and its write. */
  racingWrites = 0;

  handle(method: string, path: string, auth: string | undefined, body: unknown): [number, unknown] {
    if (auth !== `Bearer ${TOKEN}`) return status(401, 'Unauthorized');
    const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)(\/scale)?$/.exec(path);
    if (!m) return status(404, `the server could not find the requested resource`);
    const [, ns, name, sub] = m as unknown as [string, string, string, string | undefined];
    const d = ns === NS ? this.deployments.get(name) : undefined;
    if (sub && this.forbidden.has(name))
      return status(
        403,
        `deployments.apps "${name}" is forbidden: cannot ${method === 'GET' ? 'get' : 'update'} resource "deployments/scale"`,
      );
    if (!d) return status(404, `deployments.apps "${name}" not found`);
    if (!sub) {
      if (method !== 'GET') return status(405, 'method not allowed');
      return [
        200,
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name, namespace: ns, resourceVersion: String(d.resourceVersion) },
          spec: { replicas: d.replicas },
          status: { replicas: d.replicas, readyReplicas: d.ready },
        },
      ];
    }
    if (method === 'PUT') {
      const b = body as { metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } };
      if (this.racingWrites > 0) {
        this.racingWrites--;
        d.replicas += 1;
        d.resourceVersion++;
      }
      if (b.metadata?.resourceVersion !== String(d.resourceVersion))
        return status(
          409,
          `Operation cannot be fulfilled on deployments.apps "${name}": the object has been modified`,
        );
      if (typeof b.spec?.replicas !== 'number') return status(422, 'spec.replicas: Required value');
      d.replicas = b.spec.replicas;
      d.resourceVersion++;
    } else if (method !== 'GET') return status(405, 'method not allowed');
    return [
      200,
      {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name, namespace: ns, resourceVersion: String(d.resourceVersion) },
        spec: { replicas: d.replicas },
        status: { replicas: d.ready, selector: 'app=worker' },
      },
    ];
  }
}

function status(code: number, message: string): [number, unknown] {
  return [code, { apiVersion: 'v1', kind: 'Status', status: 'Failure', message, code }];
}

let dir: string;
let server: Server;
let api: StandIn;
let kubeconfig: string;

function writeKubeconfig(file: string, port: number, ca: string, token: string, namespace?: string): void {
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: standin',
      '    cluster:',
      `      server: https://127.0.0.1:${port}`,
      `      certificate-authority-data: ${Buffer.from(ca).toString('base64')}`,
      'users:',
      '  - name: scaler',
      '    user:',
      `      token: ${token}`,
      'contexts:',
      '  - name: standin',
      '    context:',
      '      cluster: standin',
      '      user: scaler',
      ...(namespace ? [`      namespace: ${namespace}`] : []),
      'current-context: standin',
      '',
    ].join('\n'),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arswarm-k8s-'));
  // A self-signed certificate for 127.0.0.1, trusted through the kubeconfig's CA data.
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
      '/CN=kube-apiserver-standin',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body: unknown = text ? JSON.parse(text) : undefined;
      const url = new URL(req.url ?? '/', 'https://standin');
      api.requests.push({
        method: req.method ?? '',
        path: url.pathname,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      });
      const [code, payload] = api.handle(req.method ?? '', url.pathname, req.headers.authorization, body);
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  kubeconfig = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, port, cert, TOKEN, NS);
  writeKubeconfig(join(dir, 'kubeconfig-bad-token'), port, cert, 'not-the-token', NS);
  writeKubeconfig(join(dir, 'kubeconfig-no-namespace'), port, cert, TOKEN);
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  api = new StandIn();
  api.deployments.set('swarm-arswarm-worker-h100', { replicas: 2, ready: 2, resourceVersion: 100 });
  api.deployments.set('swarm-arswarm-worker-h200', { replicas: 0, ready: 0, resourceVersion: 200 });
});

const deployments = { h100: 'swarm-arswarm-worker-h100', h200: 'swarm-arswarm-worker-h200' };
const SCALE_PATH = `/apis/apps/v1/namespaces/${NS}/deployments/swarm-arswarm-worker-h100/scale`;

async function caught(p: Promise<unknown>): Promise<ArswarmError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ArswarmError);
    return err as ArswarmError;
  }
  throw new Error('expected a rejection');
}

describe('createKubernetesScaler (against a stand-in of the Kubernetes API)', () => {
  it('reads the scale subresource, then replaces it with the new count and the resourceVersion read', async () => {
    const scaler = createKubernetesScaler({ deployments, kubeconfig });
    expect(await scaler.namespace()).toBe(NS);
    await expect(scaler.scale(5, 'h100')).resolves.toEqual({ pool: 'h100', previous: 2, desired: 5 });
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${SCALE_PATH}`,
      `PUT ${SCALE_PATH}`,
    ]);
    for (const r of api.requests) expect(r.authorization).toBe(`Bearer ${TOKEN}`);
    const put = api.requests[1]!;
    expect(put.contentType).toMatch(/^application\/json/);
    expect(put.body).toEqual({
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: 'swarm-arswarm-worker-h100', namespace: NS, resourceVersion: '100' },
      spec: { replicas: 5 },
    });
    expect(api.deployments.get('swarm-arswarm-worker-h100')!.replicas).toBe(5);
  });

  it('scales the default pool (the first) when none is given, and down to zero', async () => {
    const scaler = createKubernetesScaler({ deployments, kubeconfig });
    await expect(scaler.scale(0)).resolves.toEqual({ pool: 'h100', previous: 2, desired: 0 });
    expect(api.deployments.get('swarm-arswarm-worker-h100')!.replicas).toBe(0);
    const other = createKubernetesScaler({ deployments, kubeconfig, defaultPool: 'h200' });
    await expect(other.scale(3)).resolves.toEqual({ pool: 'h200', previous: 0, desired: 3 });
  });

  it('sends no write when the count is already right', async () => {
    const scaler = createKubernetesScaler({ deployments, kubeconfig });
    await expect(scaler.scale(2, 'h100')).resolves.toEqual({ pool: 'h100', previous: 2, desired: 2 });
    expect(api.requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('re-reads and retries when the count changed between its read and its write (409)', async () => {
    const scaler = createKubernetesScaler({ deployments, kubeconfig });
    api.racingWrites = 1; // someone else scales h100 from 2 to 3 just before our write
    await expect(scaler.scale(6, 'h100')).resolves.toEqual({ pool: 'h100', previous: 3, desired: 6 });
    expect(api.requests.map((r) => r.method)).toEqual(['GET', 'PUT', 'GET', 'PUT']);
    expect(
      (api.requests[3]!.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion,
    ).toBe('101');
    expect(api.deployments.get('swarm-arswarm-worker-h100')!.replicas).toBe(6);
  });

  it('gives up with Aborted after maxConflictRetries', async () => {
    const scaler = createKubernetesScaler({ deployments, kubeconfig, maxConflictRetries: 1 });
    api.racingWrites = 5;
    const err = await caught(scaler.scale(6, 'h100'));
    expect(err.code).toBe(Code.Aborted);
    expect(api.requests.filter((r) => r.method === 'PUT')).toHaveLength(2);
  });

  it('reports desired and ready workers of every pool, or of one', async () => {
    api.deployments.get('swarm-arswarm-worker-h100')!.ready = 1;
    const scaler = createKubernetesScaler({ deployments, kubeconfig });
    await expect(scaler.current()).resolves.toEqual([
      { pool: 'h100', desired: 2, ready: 1 },
      { pool: 'h200', desired: 0, ready: 0 },
    ]);
    await expect(scaler.current('h200')).resolves.toEqual([{ pool: 'h200', desired: 0, ready: 0 }]);
    expect(api.requests.at(-1)).toMatchObject({
      method: 'GET',
      path: `/apis/apps/v1/namespaces/${NS}/deployments/swarm-arswarm-worker-h200`,
      authorization: `Bearer ${TOKEN}`,
    });
  });

  it('refuses an unknown pool with NotFound naming the known pools, without calling the API', async () => {
    const scaler = createKubernetesScaler({ deployments, kubeconfig });
    for (const p of [scaler.scale(1, 'a100'), scaler.current('a100')]) {
      const err = await caught(p);
      expect(err.code).toBe(Code.NotFound);
      expect(err.message).toContain('"a100"');
      expect(err.message).toContain('h100, h200');
    }
    expect(api.requests).toEqual([]);
  });

  it('refuses a bad replica count with InvalidArgument', async () => {
    const scaler = createKubernetesScaler({ deployments, kubeconfig, maxReplicas: 10 });
    for (const n of [-1, 1.5, 11, Number.NaN])
      expect((await caught(scaler.scale(n, 'h100'))).code).toBe(Code.InvalidArgument);
    expect(api.requests).toEqual([]);
  });

  it('maps API failures: 403 -> PermissionDenied, missing Deployment -> NotFound, bad token -> Unauthenticated', async () => {
    api.forbidden.add('swarm-arswarm-worker-h200');
    const scaler = createKubernetesScaler({ deployments, kubeconfig });
    const forbidden = await caught(scaler.scale(1, 'h200'));
    expect(forbidden.code).toBe(Code.PermissionDenied);
    expect(forbidden.message).toContain('forbidden');

    api.deployments.delete('swarm-arswarm-worker-h100');
    const missing = await caught(scaler.scale(1, 'h100'));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.message).toContain(`${NS}/swarm-arswarm-worker-h100`);

    const wrongToken = createKubernetesScaler({ deployments, kubeconfig: join(dir, 'kubeconfig-bad-token') });
    expect((await caught(wrongToken.current('h200'))).code).toBe(Code.Unauthenticated);
    expect(api.requests.at(-1)!.authorization).toBe('Bearer not-the-token');
  });

  it('uses the namespace option over the kubeconfig context, and `default` when neither gives one', async () => {
    const none = createKubernetesScaler({ deployments, kubeconfig: join(dir, 'kubeconfig-no-namespace') });
    expect(await none.namespace()).toBe('default');
    expect((await caught(none.current('h100'))).code).toBe(Code.NotFound);
    expect(api.requests.at(-1)!.path).toBe(
      '/apis/apps/v1/namespaces/default/deployments/swarm-arswarm-worker-h100',
    );
    const explicit = createKubernetesScaler({
      deployments,
      kubeconfig: join(dir, 'kubeconfig-no-namespace'),
      namespace: NS,
    });
    await expect(explicit.current('h100')).resolves.toEqual([{ pool: 'h100', desired: 2, ready: 2 }]);
  });

  it('reports an unreachable API server as Unavailable', async () => {
    const file = join(dir, 'kubeconfig-closed');
    writeKubeconfig(file, 1, readFileSync(join(dir, 'cert.pem'), 'utf8'), TOKEN, NS);
    const err = await caught(createKubernetesScaler({ deployments, kubeconfig: file }).current('h100'));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.retryable).toBe(true);
  });
});

describe('scaler options', () => {
  it('are validated once: no pools, bad names and an unknown default pool are refused', () => {
    const bad: KubernetesScalerOptions[] = [
      { deployments: {} },
      { deployments: { h100: 'Not_A_Name' } },
      { deployments, namespace: 'Research' },
      { deployments, defaultPool: 'a100' },
      { deployments, maxConflictRetries: -1 },
      { deployments, extra: true } as never,
    ];
    for (const o of bad) {
      let err: unknown;
      try {
        createKubernetesScaler({ ...o, kubeconfig });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(o)).toBeInstanceOf(ArswarmError);
      expect((err as ArswarmError).code).toBe(Code.InvalidArgument);
    }
  });

  it('come from the environment the Helm chart sets', () => {
    expect(kubernetesScalerOptionsFromEnv({})).toBeUndefined();
    expect(
      kubernetesScalerOptionsFromEnv({
        ARSWARM_K8S_WORKER_DEPLOYMENTS: 'h100=swarm-arswarm-worker-h100,h200=swarm-arswarm-worker-h200',
        ARSWARM_K8S_NAMESPACE: NS,
      }),
    ).toEqual({ deployments, namespace: NS });
    expect(() => parseWorkerDeployments('h100')).toThrow(/pool=deployment/);
    expect(() => parseWorkerDeployments('a=b,a=c')).toThrow(/twice/);
  });
});
