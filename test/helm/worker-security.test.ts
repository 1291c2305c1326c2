/**
 * What the chart does for item 5 and 6 of the isolation issue: workers drop
 * trial code to a separate uid (root with six capabilities, or non-root and
 * no isolation with `workers.trialUser: none`), CodeService's worker token is
 * one Secret mounted into workers and the coordinator, gRPC binds all
 * interfaces in the pod only because the NetworkPolicy admits just this
 * release's workers and the configured API peers.
 */
import { Buffer } from 'node:buffer';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../common/config-load.js';
import { parseTrialUser } from '../../cli/trial-user.js';
import { NEEDED_CAPS } from '../../worker/isolation.js';
import { find, installHelm, ofKind, template, VALUE_SETS, type K8sObject } from './helm.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const COORDINATOR = 'swarm-arswarm-coordinator';

const workers = (objs: K8sObject[]) =>
  ofKind(objs, 'Deployment').filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'worker');
const container = (d: K8sObject, name: string): Any =>
  (d.spec.template.spec.containers as Any[]).find((x) => x.name === name);
const arg = (c: Any, flag: string): string => (c.args as string[])[(c.args as string[]).indexOf(flag) + 1]!;
const envOf = (c: Any) => new Map(((c.env ?? []) as Any[]).map((e) => [e.name as string, e]));
const mount = (c: Any, name: string) => (c.volumeMounts as Any[]).find((m) => m.name === name);
const volume = (d: K8sObject, name: string) => (d.spec.template.spec.volumes as Any[]).find((v) => v.name === name);

beforeAll(() => {
  installHelm();
}, 600_000);

describe('worker isolation in the chart', () => {
  it('runs workers as root with only the capabilities isolation needs, trial code as 10002', async () => {
    const objs = await template([]);
    expect(workers(objs).length).toBeGreaterThan(0);
    for (const d of workers(objs)) {
      const pod = d.spec.template.spec;
      const c = container(d, 'worker');
      expect(pod.securityContext).toMatchObject({ runAsUser: 0, runAsNonRoot: false });
      expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
      // Exactly what worker/isolation.ts checks for, by the names Kubernetes uses.
      expect([...c.securityContext.capabilities.add].sort()).toEqual(
        Object.keys(NEEDED_CAPS)
          .map((k) => k.replace(/^CAP_/, ''))
          .sort(),
      );
      expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      // The worker's own parser accepts what the chart passes.
      expect(parseTrialUser(arg(c, '--trial-user'))).toEqual({ uid: 10002, gid: 10002 });
    }
  });

  it('with trialUser none: non-root workers without capabilities, and the worker says trial code is not isolated', async () => {
    const objs = await template([], ['workers.trialUser=none']);
    for (const d of workers(objs)) {
      const c = container(d, 'worker');
      expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
      expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'] });
      expect(arg(c, '--trial-user')).toBe('none');
    }
  });

  it('refuses a trial user that is not UID:GID or none', async () => {
    await expect(template([], ['workers.trialUser=root'])).rejects.toThrow(/trialUser/);
    await expect(template([], ['workers.trialUser=0:0'])).rejects.toThrow(/trialUser/);
  });
});

describe('the worker token', () => {
  it('is one random Secret, a file in workers (owner-only) and in the coordinator, whose config reads it', async () => {
    const objs = await template([]);
    const secret = find(objs, 'Secret', 'swarm-arswarm-worker-token');
    expect(Buffer.from(secret.data.token as string, 'base64').toString()).toMatch(/^[A-Za-z0-9]{40}$/);
    for (const d of workers(objs)) {
      const c = container(d, 'worker');
      const file = envOf(c).get('ARSWARM_WORKER_TOKEN_FILE').value as string;
      expect(file).toBe(`${mount(c, 'worker-token').mountPath}/token`);
      expect(volume(d, 'worker-token').secret).toEqual({
        secretName: 'swarm-arswarm-worker-token',
        defaultMode: 0o400,
        items: [{ key: 'token', path: 'token' }],
      });
      expect(envOf(c).has('ARSWARM_WORKER_TOKEN')).toBe(false);
    }
    const coord = find(objs, 'Deployment', COORDINATOR);
    const cc = container(coord, 'coordinator');
    expect(volume(coord, 'worker-token').secret.secretName).toBe('swarm-arswarm-worker-token');
    const text = find(objs, 'ConfigMap', COORDINATOR).data['arswarm.yaml'] as string;
    const config = parseConfig(parseYaml(text), 'rendered arswarm.yaml');
    expect(config.api.worker_token_file).toBe(`${mount(cc, 'worker-token').mountPath}/token`);
    // In the pod gRPC listens on all interfaces (workers dial the pod IP); the NetworkPolicy guards it.
    expect(config.api.grpc_host).toBe('0.0.0.0');
  });

  it('comes from workerToken.existingSecret when given (no chart-made Secret)', async () => {
    const objs = await template(VALUE_SETS['KEDA + Ingress + existingSecret']!);
    expect(ofKind(objs, 'Secret').map((s) => s.metadata.name)).toEqual([]);
    for (const d of [...workers(objs), find(objs, 'Deployment', COORDINATOR)])
      expect(volume(d, 'worker-token').secret.secretName).toBe('arswarm-worker-token');
  });
});

describe('the coordinator NetworkPolicy', () => {
  const workerSelector = {
    'app.kubernetes.io/name': 'arswarm',
    'app.kubernetes.io/instance': 'swarm',
    'app.kubernetes.io/component': 'worker',
  };

  it('admits only this release’s workers, to gRPC, when no API peers are configured', async () => {
    const np = find(await template([]), 'NetworkPolicy', COORDINATOR);
    expect(np.spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: workerSelector } }], ports: [{ port: 'grpc', protocol: 'TCP' }] },
    ]);
  });

  it('admits the apiFrom peers to HTTP and gRPC, and nobody else', async () => {
    const np = find(await template(VALUE_SETS['KEDA + Ingress + existingSecret']!), 'NetworkPolicy', COORDINATOR);
    expect(np.spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: workerSelector } }], ports: [{ port: 'grpc', protocol: 'TCP' }] },
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
        ports: [
          { port: 'http', protocol: 'TCP' },
          { port: 'grpc', protocol: 'TCP' },
        ],
      },
    ]);
    // Every rule names its peers: no rule without `from` (which would admit anyone).
    for (const r of np.spec.ingress as Any[]) expect(r.from?.length).toBeGreaterThan(0);
  });

  it('lets only the coordinator and workers reach NATS clients', async () => {
    const np = find(await template([]), 'NetworkPolicy', 'swarm-arswarm-nats');
    const client = (np.spec.ingress as Any[]).find((r) => r.ports[0].port === 'client');
    expect(client.from.map((p: Any) => p.podSelector.matchLabels['app.kubernetes.io/component']).sort()).toEqual([
      'coordinator',
      'worker',
    ]);
  });
});
