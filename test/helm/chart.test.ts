/**
 * The Helm chart: `helm lint --strict` and `helm template` for four value sets,
 * every rendered object validated against the Kubernetes schema with
 * kubernetes-models (the KEDA ScaledObject, a CRD, by hand), and the
 * properties the deployment relies on. No cluster runs here; helm renders
 * offline.
 */
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../common/config-load.js';
import { names } from '../../common/subjects.js';
import { kubernetesScalerOptionsFromEnv } from '../../coordinator/k8s/options.js';
import {
  CHART,
  find,
  helm,
  installHelm,
  lint,
  ofKind,
  template,
  validateObject,
  VALUE_SETS,
  type K8sObject,
} from './helm.js';

const COORDINATOR = 'swarm-arswarm-coordinator';
const NATS = 'swarm-arswarm-nats';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function container(d: K8sObject, name: string): Any {
  const c = (d.spec.template.spec.containers as Any[]).find((x) => x.name === name);
  if (!c) throw new Error(`${d.metadata.name} has no container ${name}`);
  return c;
}

function env(c: Any): Map<string, Any> {
  return new Map(((c.env ?? []) as Any[]).map((e) => [e.name as string, e]));
}

function workers(objs: K8sObject[]): K8sObject[] {
  return ofKind(objs, 'Deployment').filter(
    (d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'worker',
  );
}

/** The arswarm.yaml the coordinator will read, parsed by the coordinator's own schema. */
function renderedConfig(objs: K8sObject[]) {
  const text = find(objs, 'ConfigMap', COORDINATOR).data['arswarm.yaml'] as string;
  return parseConfig(parseYaml(text), 'rendered arswarm.yaml');
}

beforeAll(() => {
  installHelm();
}, 600_000);

describe.each(Object.entries(VALUE_SETS))('value set: %s', (_name, files) => {
  let objs: K8sObject[];

  beforeAll(async () => {
    objs = await template(files);
  });

  it('passes helm lint --strict', async () => {
    await expect(lint(files)).resolves.toMatch(/0 chart\(s\) failed/);
  });

  it('renders only objects that validate against the Kubernetes schema', () => {
    expect(objs.length).toBeGreaterThan(8);
    for (const o of objs) {
      if (o.kind === 'ScaledObject') continue; // a CRD: checked by hand below
      expect(validateObject(o), `${o.apiVersion} ${o.kind} has no model`).toBe(true);
    }
  });

  it('renders an arswarm.yaml the coordinator accepts, pointing at the state volume and NATS', () => {
    const config = renderedConfig(objs);
    expect(config.swarm.state_dir).toBe('/var/lib/arswarm');
    const coord = container(find(objs, 'Deployment', COORDINATOR), 'coordinator');
    expect(env(coord).get('ARSWARM_NATS_URL').value).toBe(config.swarm.nats_url);
    expect(config.api.http_host).toBe('0.0.0.0');
  });

  it('runs one coordinator, Recreate, non-root, with probes on its HTTP port', () => {
    const d = find(objs, 'Deployment', COORDINATOR);
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({ type: 'Recreate' });
    const pod = d.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const c = container(d, 'coordinator');
    expect(c.args).toEqual(['coordinator', '--config', '/etc/arswarm/arswarm.yaml']);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.port).toBe('http');
    const mounts = (c.volumeMounts as Any[]).map((m) => m.mountPath);
    expect(mounts).toContain('/var/lib/arswarm');
    const state = (pod.volumes as Any[]).find((v) => v.name === 'state');
    expect(state.persistentVolumeClaim.claimName).toBeTruthy();
    expect(env(c).get('ARSWARM_K8S_NAMESPACE').valueFrom.fieldRef.fieldPath).toBe('metadata.namespace');
    expect(find(objs, 'PodDisruptionBudget', COORDINATOR)).toBeTruthy();
  });

  it('tells the coordinator exactly the worker Deployments it may scale, and the Role allows nothing else', () => {
    const deployments = workers(objs).map((d) => d.metadata.name);
    expect(deployments.length).toBeGreaterThan(0);
    const coord = find(objs, 'Deployment', COORDINATOR);
    const list = env(container(coord, 'coordinator')).get('ARSWARM_K8S_WORKER_DEPLOYMENTS').value as string;
    const pairs = list.split(',').map((p) => p.split('='));
    expect(pairs.map(([, dep]) => dep).sort()).toEqual([...deployments].sort());
    for (const [pool, dep] of pairs) expect(dep).toBe(`swarm-arswarm-worker-${pool}`);
    // The scaler reads exactly this environment.
    const scaler = kubernetesScalerOptionsFromEnv({ ARSWARM_K8S_WORKER_DEPLOYMENTS: list, ARSWARM_K8S_NAMESPACE: 'research' });
    expect(scaler?.deployments).toEqual(Object.fromEntries(pairs));

    const role = find(objs, 'Role', `${COORDINATOR}-scale-workers`);
    for (const rule of role.rules as Any[]) {
      expect(rule.apiGroups).toEqual(['apps']);
      expect([...rule.resourceNames].sort()).toEqual([...deployments].sort());
      if (rule.resources[0] === 'deployments/scale') expect(rule.verbs).toEqual(['get', 'patch', 'update']);
      else expect(rule).toMatchObject({ resources: ['deployments'], verbs: ['get'] });
    }
    expect((role.rules as Any[]).map((r) => r.resources[0]).sort()).toEqual([
      'deployments',
      'deployments/scale',
    ]);
    const binding = find(objs, 'RoleBinding', `${COORDINATOR}-scale-workers`);
    expect(binding.roleRef.name).toBe(role.metadata.name);
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: coord.spec.template.spec.serviceAccountName, namespace: 'research' },
    ]);
  });

  it('gives workers no API key, no API tokens and no Kubernetes credentials', () => {
    for (const d of workers(objs)) {
      const pod = d.spec.template.spec;
      expect(pod.automountServiceAccountToken).toBe(false);
      const c = container(d, 'worker');
      const vars = env(c);
      expect(vars.has('ANTHROPIC_API_KEY')).toBe(false);
      expect(vars.has('ARSWARM_TOKENS_FILE')).toBe(false);
      expect(vars.has('ARSWARM_TOKEN')).toBe(false);
      const secretRefs = [...vars.values()].filter((e) => e.valueFrom?.secretKeyRef);
      expect(secretRefs.map((e) => e.valueFrom.secretKeyRef.key)).toEqual(
        vars.has('ARSWARM_NATS_PASSWORD') ? ['worker-password'] : [],
      );
      expect(c.envFrom).toBeUndefined();
      // At most the coordinator's CA certificate and the worker token, never a whole Secret (its key).
      for (const v of (pod.volumes as Any[]).filter((x) => x.secret))
        expect([[{ key: 'ca.crt', path: 'ca.crt' }], [{ key: 'token', path: 'token' }]]).toContainEqual(
          v.secret.items,
        );
      expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
      // Root only to drop trial code to another uid (test/helm/worker-security.test.ts).
      expect(pod.securityContext.runAsNonRoot).toBe(c.args[c.args.indexOf('--trial-user') + 1] === 'none');
    }
  });

  it('starts workers with the coordinator address, their pool and a drain that fits the grace period', () => {
    const config = renderedConfig(objs);
    const longest = Math.max(...config.stages.map((s) => s.timeout_seconds ?? s.budget_seconds + 120));
    for (const d of workers(objs)) {
      const c = container(d, 'worker');
      const args = c.args as string[];
      const arg = (flag: string) => args[args.indexOf(flag) + 1];
      expect(arg('--code')).toBe(`${COORDINATOR}.research.svc:${config.swarm.grpc_port}`);
      expect(arg('--pool')).toBe(d.metadata.labels!['arswarm.dev/pool']);
      expect(arg('--prefix')).toBe(config.swarm.prefix);
      expect(arg('--work-dir')).toBe('/var/cache/arswarm-worker');
      const grace = d.spec.template.spec.terminationGracePeriodSeconds as number;
      const drainMs = Number(arg('--drain-timeout-ms'));
      expect(grace).toBeGreaterThanOrEqual(longest);
      expect(drainMs / 1000).toBeGreaterThanOrEqual(longest);
      expect(drainMs / 1000).toBeLessThan(grace);
      // The NATS URL travels in the environment, not in argv.
      expect(args.join(' ')).not.toContain('nats://');
      expect(env(c).get('ARSWARM_NATS_URL').value).toBe(config.swarm.nats_url);
    }
  });

  it('requests nvidia.com/gpu for GPU pools (limit = request = gpusPerWorker) and none for CPU pools', () => {
    for (const d of workers(objs)) {
      const c = container(d, 'worker');
      const gpus = c.args[c.args.indexOf('--gpus') + 1];
      const limit = c.resources.limits?.['nvidia.com/gpu'];
      if (gpus === 'all') {
        expect(limit).toBeGreaterThan(0);
        expect(c.resources.requests['nvidia.com/gpu']).toBe(limit);
      } else {
        expect(gpus).toBe('none');
        expect(limit).toBeUndefined();
      }
    }
  });

  it('lets workers reach only DNS, NATS and the coordinator gRPC port', () => {
    const np = find(objs, 'NetworkPolicy', 'swarm-arswarm-worker');
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toEqual([]);
    const config = renderedConfig(objs);
    const ports = (np.spec.egress as Any[]).flatMap((r) => (r.ports as Any[]).map((p) => p.port));
    expect(new Set(ports)).toEqual(new Set([53, Number(new URL(config.swarm.nats_url).port), config.swarm.grpc_port]));
    const toCoordinator = (np.spec.egress as Any[]).find((r) => r.ports[0].port === config.swarm.grpc_port);
    expect(toCoordinator.to[0].podSelector.matchLabels['app.kubernetes.io/component']).toBe('coordinator');
  });
});

describe('value set specifics', () => {
  it('defaults: in-chart NATS with JetStream on a PVC, per-role users, PDB; no KEDA or Ingress', async () => {
    const objs = await template([]);
    const sts = find(objs, 'StatefulSet', NATS);
    expect(sts.spec.replicas).toBe(1);
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(container(sts, 'nats').image).toMatch(/^nats:2\.1\d/);
    const conf = find(objs, 'ConfigMap', NATS).data as Record<string, string>;
    expect(conf['nats.conf']).toContain('jetstream {');
    expect(conf['nats.conf']).toContain('include ./authorization.conf');
    expect(conf['nats.conf']).not.toContain('cluster {');
    expect(conf['authorization.conf']).toContain('user: "worker"');
    expect(find(objs, 'Secret', 'swarm-arswarm-nats-auth').data['worker-password']).toBeTruthy();
    expect(find(objs, 'PodDisruptionBudget', NATS)).toBeTruthy();
    const svc = find(objs, 'Service', NATS);
    expect((svc.spec.ports as Any[]).map((p) => p.port)).toEqual([4222, 6222, 8222]);
    expect(ofKind(objs, 'ScaledObject')).toEqual([]);
    expect(ofKind(objs, 'Ingress')).toEqual([]);
    expect(workers(objs)[0]!.spec.replicas).toBe(1);
  });

  it('external NATS: no NATS objects, the external URL and credentials from the existing Secret', async () => {
    const objs = await template(VALUE_SETS['external NATS']!);
    expect(objs.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'nats')).toEqual([]);
    const coord = env(container(find(objs, 'Deployment', COORDINATOR), 'coordinator'));
    expect(coord.get('ARSWARM_NATS_URL').value).toBe('nats://nats.messaging.svc.cluster.local:4222');
    expect(coord.get('ARSWARM_NATS_PASSWORD').valueFrom.secretKeyRef.name).toBe('shared-nats-arswarm-users');
    expect(renderedConfig(objs).swarm.prefix).toBe('lab1');
    const np = find(objs, 'NetworkPolicy', COORDINATOR);
    expect((np.spec.egress as Any[]).some((r) => r.to?.[0]?.ipBlock?.cidr === '10.0.0.1/32')).toBe(true);
  });

  it('two GPU pools: H100 and H200 Deployments with their own GPUs, node selectors, tolerations, class', async () => {
    const objs = await template(VALUE_SETS['GPU pools H100 + H200']!);
    const h100 = find(objs, 'Deployment', 'swarm-arswarm-worker-h100');
    const h200 = find(objs, 'Deployment', 'swarm-arswarm-worker-h200');
    expect(h100.spec.replicas).toBe(4);
    expect(h200.spec.replicas).toBeUndefined(); // replicas: null leaves the count to `arswarm scale`
    for (const [d, product, cls] of [
      [h100, 'NVIDIA-H100-80GB-HBM3', 'H100-80GB'],
      [h200, 'NVIDIA-H200', 'H200-141GB'],
    ] as const) {
      const pod = d.spec.template.spec;
      expect(pod.nodeSelector).toEqual({ 'nvidia.com/gpu.product': product });
      expect(container(d, 'worker').resources.limits['nvidia.com/gpu']).toBe(8);
      expect(d.spec.template.metadata.labels['arswarm.dev/gpu-class']).toBe(cls);
      expect(pod.terminationGracePeriodSeconds).toBe(900);
      expect((pod.tolerations as Any[]).some((t) => t.key === 'nvidia.com/gpu')).toBe(true);
      const cache = (pod.volumes as Any[]).find((v) => v.name === 'cache');
      expect(cache).toEqual({ name: 'cache', persistentVolumeClaim: { claimName: 'arswarm-datasets' } });
      const args = container(d, 'worker').args as string[];
      expect(args).toContain('HF_HOME=/var/cache/arswarm-cache/huggingface');
    }
    expect(find(objs, 'Deployment', 'swarm-arswarm-worker-h100').spec.template.spec.tolerations).toHaveLength(2);
    // Three NATS servers routed to each other.
    expect(find(objs, 'StatefulSet', NATS).spec.replicas).toBe(3);
    const conf = find(objs, 'ConfigMap', NATS).data['nats.conf'] as string;
    for (const i of [0, 1, 2])
      expect(conf).toContain(`nats://${NATS}-${i}.${NATS}-headless.research.svc.cluster.local:6222`);
  });

  it('KEDA + Ingress + existingSecret: ScaledObjects on the trial queues, the Ingress, no chart-made secrets', async () => {
    const objs = await template(VALUE_SETS['KEDA + Ingress + existingSecret']!);
    const config = renderedConfig(objs);
    const n = names(config.swarm.prefix);
    const scaled = ofKind(objs, 'ScaledObject');
    expect(scaled).toHaveLength(workers(objs).length);
    for (const so of scaled) {
      expect(so.apiVersion).toBe('keda.sh/v1alpha1');
      expect(typeof so.metadata.name).toBe('string');
      const target = find(objs, 'Deployment', so.spec.scaleTargetRef.name);
      expect(so.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: target.metadata.name });
      expect(target.spec.replicas).toBeUndefined(); // KEDA owns the count
      expect(so.spec.minReplicaCount).toBeLessThanOrEqual(so.spec.maxReplicaCount);
      const consumers: string[] = [];
      for (const t of so.spec.triggers as Any[]) {
        expect(t.type).toBe('nats-jetstream');
        expect(t.metadata).toMatchObject({
          natsServerMonitoringEndpoint: `${NATS}.research.svc:8222`,
          account: '$G',
          stream: n.trialsStream,
        });
        // KEDA wants every metadata value as a string.
        for (const v of Object.values(t.metadata)) expect(typeof v).toBe('string');
        consumers.push(t.metadata.consumer);
      }
      const cls = target.spec.template.metadata.labels['arswarm.dev/gpu-class'] as string;
      expect(consumers.sort()).toEqual(
        config.stages.flatMap((s) => [n.stageConsumer(s.name), n.stageConsumer(s.name, cls)]).sort(),
      );
    }

    const ingress = find(objs, 'Ingress', COORDINATOR);
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    expect(backend).toEqual({ name: COORDINATOR, port: { name: 'http' } });
    expect(ingress.spec.tls[0].secretName).toBe('arswarm-dashboard-tls');

    expect(ofKind(objs, 'Secret')).toEqual([]);
    const coord = find(objs, 'Deployment', COORDINATOR);
    const c = container(coord, 'coordinator');
    const vars = env(c);
    expect(vars.get('ANTHROPIC_API_KEY').valueFrom.secretKeyRef).toEqual({
      name: 'arswarm-anthropic',
      key: 'ANTHROPIC_API_KEY',
    });
    expect(vars.get('ARSWARM_TOKENS_FILE').value).toBe('/etc/arswarm/tokens/tokens.yaml');
    const volumes = coord.spec.template.spec.volumes as Any[];
    expect(volumes.find((v) => v.name === 'tokens').secret.secretName).toBe('arswarm-api-tokens');
    expect(vars.get('ARSWARM_NATS_PASSWORD').valueFrom.secretKeyRef.name).toBe('arswarm-nats-users');
    // TLS: the config names the mounted files and the probes speak HTTPS.
    expect(config.api.tls_cert_file).toBe('/etc/arswarm/tls/tls.crt');
    expect(c.readinessProbe.httpGet.scheme).toBe('HTTPS');
    // Workers verify the coordinator with the CA, and get nothing else of its Secret.
    for (const d of workers(objs)) {
      const w = container(d, 'worker');
      expect(env(w).get('ARSWARM_CA_CERT').value).toBe('/etc/arswarm/ca/ca.crt');
      const ca = (d.spec.template.spec.volumes as Any[]).find((v) => v.name === 'coordinator-ca');
      expect(ca.secret).toEqual({
        secretName: 'arswarm-coordinator-tls',
        items: [{ key: 'ca.crt', path: 'ca.crt' }],
      });
    }
    // The target is cloned into the state volume by an init container.
    expect(config.target.repo).toBe('/var/lib/arswarm/target');
    const init = coord.spec.template.spec.initContainers[0];
    expect(env(init).get('GIT_URL').value).toBe('https://git.example.org/research/autoresearch.git');
    expect(config.proposers[0]!.kind).toBe('claude');
  });

  it('creates Secrets for an inline API key and tokens, and mounts the tokens file', async () => {
    const token = 'a-reviewer-token-0123456789';
    const objs = await template(
      [],
      ['anthropic.apiKey=sk-test', `apiTokens.tokens[0].name=ci`, `apiTokens.tokens[0].token=${token}`, 'apiTokens.tokens[0].role=reviewer'],
    );
    const tokens = parseYaml(find(objs, 'Secret', 'swarm-arswarm-api-tokens').stringData['tokens.yaml']);
    expect(tokens).toEqual([{ name: 'ci', token, role: 'reviewer' }]);
    expect(find(objs, 'Secret', 'swarm-arswarm-anthropic').stringData['api-key']).toBe('sk-test');
    for (const d of workers(objs)) expect(JSON.stringify(d)).not.toContain('swarm-arswarm-anthropic');
  });

  it('passes the optional auditor, review and notify sections into arswarm.yaml, and only when set', async () => {
    const plain = renderedConfig(await template([]));
    expect(plain.auditor).toBeUndefined();
    expect(plain.review).toBeUndefined();
    const objs = await template(
      [],
      [
        'config.auditor.kind=claude',
        'config.auditor.budget.dollars=5',
        'config.review.branches=true',
        'config.notify.webhooks[0].url=https://hooks.example.test/arswarm',
        'config.notify.webhooks[0].format=slack',
      ],
    );
    const c = renderedConfig(objs);
    expect(c.auditor?.kind).toBe('claude');
    expect(c.auditor?.budget.dollars).toBe(5);
    expect(c.review?.branches).toBe(true);
    expect(c.notify?.webhooks).toEqual([
      expect.objectContaining({ url: 'https://hooks.example.test/arswarm', format: 'slack' }),
    ]);
    await expect(template([], ['config.auditor.kind=gpt'])).rejects.toThrow(/kind/);
  });

  it('NOTES.txt says how to open the dashboard (port-forward or Ingress) and how to review', async () => {
    const notes = async (files: string[]) =>
      (await helm('install', 'swarm', CHART, '-n', 'research', '--dry-run=client', ...files.flatMap((f) => ['-f', f]))).split(
        'NOTES:',
      )[1]!;
    const plain = await notes([]);
    expect(plain).toContain('kubectl -n research port-forward svc/swarm-arswarm-coordinator 8080:http');
    expect(plain).toContain('cat /var/lib/arswarm/admin-token');
    expect(plain).toContain('arswarm review approve');
    expect(plain).toContain('arswarm scale N --pool default');
    const withIngress = await notes(VALUE_SETS['KEDA + Ingress + existingSecret']!);
    expect(withIngress).toContain('https://arswarm.lab.example.org/');
    expect(withIngress).not.toContain('admin-token');
  });

  it('rejects typos and impossible values through values.schema.json', async () => {
    await expect(template([], ['config.swarm.merge_polcy=auto'])).rejects.toThrow(/merge_polcy/);
    await expect(template([], ['config.swarm.merge_policy=sometimes'])).rejects.toThrow(/merge_policy/);
    await expect(template([], ['nats.replicas=2'])).rejects.toThrow(/replicas/);
    await expect(template([], ['workers.pools[0].gpus=2'])).rejects.toThrow(/gpus/);
    // The chart sets these itself; a value would be silently overridden.
    await expect(template([], ['config.swarm.state_dir=/x'])).rejects.toThrow(/state_dir/);
  });
});
