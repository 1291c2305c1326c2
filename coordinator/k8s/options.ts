/** Options of the Kubernetes worker scaler, validated once with zod. */
import { z } from 'zod';
import { ArswarmError, Code } from '../../common/errors.js';

/** @default 3 */
export const DEFAULT_MAX_CONFLICT_RETRIES = 3;
/** @default 1024 */
export const DEFAULT_MAX_REPLICAS = 1024;

/** Environment variables the Helm chart sets on the coordinator. */
export const ENV_NAMESPACE = 'ARSWARM_K8S_NAMESPACE';
export const ENV_WORKER_DEPLOYMENTS = 'ARSWARM_K8S_WORKER_DEPLOYMENTS';
/** Optional: a kubeconfig file instead of the in-cluster service account. */
export const ENV_KUBECONFIG = 'ARSWARM_K8S_KUBECONFIG';

export interface KubernetesScalerOptions {
  /** Worker pool name -> name of the Deployment running that pool. At least one. */
  deployments: Record<string, string>;
  /**
   * Namespace of the Deployments.
   * @default the pod's namespace in a cluster, else the kubeconfig context's, else `default`
   */
  namespace?: string;
  /**
   * Path of a kubeconfig file.
   * @default the in-cluster service account when running in a pod, else $KUBECONFIG or ~/.kube/config
   */
  kubeconfig?: string;
  /** Pool used when `scale()` or `current()` get none. @default the first pool in `deployments` */
  defaultPool?: string;
  /** Retries when the Deployment changed between read and write (HTTP 409). @default 3 */
  maxConflictRetries?: number;
  /** Largest replica count accepted. @default 1024 */
  maxReplicas?: number;
}

/** Options with every field present. */
export interface ResolvedKubernetesScalerOptions {
  readonly deployments: Readonly<Record<string, string>>;
  readonly namespace: string | undefined;
  readonly kubeconfig: string | undefined;
  readonly defaultPool: string;
  readonly maxConflictRetries: number;
  readonly maxReplicas: number;
}

// RFC 1123 names, as Kubernetes requires for namespaces and Deployments.
const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label')
  .max(63);
const dnsSubdomain = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS-1123 name')
  .max(253);
const poolName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be letters, digits, . _ or -');

const schema = z
  .object({
    deployments: z
      .record(poolName, dnsSubdomain)
      .refine((d) => Object.keys(d).length > 0, 'needs at least one pool'),
    namespace: dnsLabel.optional(),
    kubeconfig: z.string().min(1).optional(),
    defaultPool: poolName.optional(),
    maxConflictRetries: z.number().int().min(0).max(20).default(DEFAULT_MAX_CONFLICT_RETRIES),
    maxReplicas: z.number().int().min(0).max(100_000).default(DEFAULT_MAX_REPLICAS),
  })
  .strict();

/** Validates options and fills defaults; throws InvalidArgument naming the bad field. */
export function resolveKubernetesScalerOptions(
  options: KubernetesScalerOptions,
): ResolvedKubernetesScalerOptions {
  const r = schema.safeParse(options);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.');
    throw new ArswarmError(Code.InvalidArgument, `kubernetes scaler option ${field}: ${issue.message}`, {
      field,
    });
  }
  const o = r.data;
  const pools = Object.keys(o.deployments);
  const defaultPool = o.defaultPool ?? pools[0]!;
  if (!(defaultPool in o.deployments))
    throw new ArswarmError(
      Code.InvalidArgument,
      `kubernetes scaler option defaultPool: no pool "${defaultPool}" (pools: ${pools.join(', ')})`,
      { field: 'defaultPool' },
    );
  return {
    deployments: { ...o.deployments },
    namespace: o.namespace,
    kubeconfig: o.kubeconfig,
    defaultPool,
    maxConflictRetries: o.maxConflictRetries,
    maxReplicas: o.maxReplicas,
  };
}

/** Parses `pool=deployment,pool2=deployment2` (ARSWARM_K8S_WORKER_DEPLOYMENTS). */
export function parseWorkerDeployments(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (!item) continue;
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(item);
    if (!m)
      throw new ArswarmError(
        Code.InvalidArgument,
        `${ENV_WORKER_DEPLOYMENTS}: "${item}" is not pool=deployment`,
        {
          field: ENV_WORKER_DEPLOYMENTS,
        },
      );
    if (m[1]! in out)
      throw new ArswarmError(Code.InvalidArgument, `${ENV_WORKER_DEPLOYMENTS}: pool "${m[1]}" given twice`, {
        field: ENV_WORKER_DEPLOYMENTS,
      });
    out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Scaler options from the environment the Helm chart gives the coordinator,
 * or undefined when it names no worker Deployments (not on Kubernetes).
 * For the edge (the CLI); components take options.
 */
export function kubernetesScalerOptionsFromEnv(env: NodeJS.ProcessEnv): KubernetesScalerOptions | undefined {
  const list = env[ENV_WORKER_DEPLOYMENTS]?.trim();
  if (!list) return undefined;
  const options: KubernetesScalerOptions = { deployments: parseWorkerDeployments(list) };
  if (env[ENV_NAMESPACE]) options.namespace = env[ENV_NAMESPACE];
  if (env[ENV_KUBECONFIG]) options.kubeconfig = env[ENV_KUBECONFIG];
  return options;
}
