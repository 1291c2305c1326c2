/**
 * Test support for the Helm chart: the helm binary (installed into .tools/ by
 * scripts/install-helm.sh, downloaded once), rendering with value sets, and
 * validation of rendered objects with kubernetes-models.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART = join(ROOT, 'helm', 'arswarm');

/** The value sets every chart test renders: name -> values files (none = the defaults). */
export const VALUE_SETS: Record<string, string[]> = {
  defaults: [],
  'external NATS': [join(CHART, 'ci', 'external-nats-values.yaml')],
  'GPU pools H100 + H200': [join(CHART, 'ci', 'gpu-pools-values.yaml')],
  'KEDA + Ingress + existingSecret': [join(CHART, 'ci', 'keda-ingress-secrets-values.yaml')],
};

/** A rendered Kubernetes object, loosely typed: tests read fields by path. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

let helmPath: string | undefined;

/** Installs helm into .tools/ when missing (scripts/install-helm.sh) and returns its path. */
export function installHelm(): string {
  helmPath ??= execFileSync('bash', [join(ROOT, 'scripts', 'install-helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 600_000,
  }).trim();
  return helmPath;
}

/** Runs helm with arguments; rejects with its stderr. */
export async function helm(...args: string[]): Promise<string> {
  const { stdout } = await run(installHelm(), args, { maxBuffer: 32 * 1024 * 1024 });
  return stdout;
}

function valueArgs(files: string[], set: string[]): string[] {
  return [...files.flatMap((f) => ['-f', f]), ...set.flatMap((s) => ['--set', s])];
}

/** `helm lint --strict` with the value files; rejects on any finding. */
export function lint(files: string[], set: string[] = []): Promise<string> {
  return helm('lint', '--strict', CHART, ...valueArgs(files, set));
}

/** `helm template` as release `swarm` in namespace `research`; the objects rendered. */
export async function template(files: string[], set: string[] = []): Promise<K8sObject[]> {
  const out = await helm('template', 'swarm', CHART, '--namespace', 'research', ...valueArgs(files, set));
  return parseAllDocuments(out)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** kubernetes-models classes of the kinds the chart renders, by apiVersion/kind. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.k8s.io/v1/Ingress': Ingress,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

/**
 * Validates an object against the Kubernetes OpenAPI schema (kubernetes-models);
 * throws naming the object. Returns false for kinds it has no model for (CRDs).
 */
export function validateObject(obj: K8sObject): boolean {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) return false;
  try {
    new Model(obj as never).validate();
  } catch (err) {
    throw new Error(`${obj.kind} ${obj.metadata.name} is invalid: ${(err as Error).message}`, { cause: err });
  }
  return true;
}

/** The one object of a kind and name, or an error listing what exists. */
export function find(objs: K8sObject[], kind: string, name: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o)
    throw new Error(
      `no ${kind} ${name}; rendered: ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`,
    );
  return o;
}

/** All objects of a kind. */
export function ofKind(objs: K8sObject[], kind: string): K8sObject[] {
  return objs.filter((x) => x.kind === kind);
}

/** The chart's values.yaml. */
export function chartValues(): Record<string, unknown> {
  return parseAllDocuments(readFileSync(join(CHART, 'values.yaml'), 'utf8'))[0]!.toJS() as Record<
    string,
    unknown
  >;
}
