/**
 * Scales worker pools running as Kubernetes Deployments through the
 * Deployment's `scale` subresource (the one thing the chart's Role allows).
 * Scaling down lets the kubelet send SIGTERM, and a worker drains on SIGTERM
 * (finishes or hands back its trial), so no trial is lost.
 */
import type { AppsV1Api, KubeConfig, V1Scale } from '@kubernetes/client-node';
import { ArswarmError, Code } from '../../common/errors.js';
import type { PoolStatus, ScaleResult, WorkerScaler } from '../scaler.js';
import {
  resolveKubernetesScalerOptions,
  type KubernetesScalerOptions,
  type ResolvedKubernetesScalerOptions,
} from './options.js';

/** A WorkerScaler over Kubernetes Deployments, with the facts it resolved. */
export interface KubernetesScaler extends WorkerScaler {
  readonly options: ResolvedKubernetesScalerOptions;
  /** The namespace of the Deployments (loads the kubeconfig if not yet loaded). */
  namespace(): Promise<string>;
}

type ClientModule = typeof import('@kubernetes/client-node');

// Loaded on first use, not at import: the CLI imports this module for every
// command, and the client library is large and only needed on Kubernetes.
let clientModule: ClientModule | undefined;

async function loadClient(): Promise<ClientModule> {
  try {
    clientModule ??= await import('@kubernetes/client-node');
  } catch (err) {
    throw new ArswarmError(Code.FailedPrecondition, 'cannot load @kubernetes/client-node', {
      cause: err,
      reason: 'k8s_client',
    });
  }
  return clientModule;
}

function loadKubeConfig(k8s: ClientModule, path: string | undefined): KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    throw new ArswarmError(Code.FailedPrecondition, `cannot load kubeconfig${path ? ` ${path}` : ''}`, {
      cause: err,
      reason: 'kubeconfig',
      hint: 'run inside the cluster (service account) or give a kubeconfig file',
    });
  }
  return kc;
}

/** Maps a Kubernetes API failure to the project's error, naming what was asked. */
export function kubernetesError(err: unknown, what: string): ArswarmError {
  if (err instanceof ArswarmError) return err;
  // Only the loaded library can have thrown its ApiException.
  if (clientModule && err instanceof clientModule.ApiException) {
    const status = err.code;
    const detail = apiMessage(err.body);
    const message = `${what}: Kubernetes API ${status}${detail ? ` ${detail}` : ''}`;
    const o = { cause: err, reason: `k8s_${status}` as const };
    if (status === 404)
      return new ArswarmError(Code.NotFound, message, {
        ...o,
        hint: 'is the release installed in this namespace?',
      });
    if (status === 401) return new ArswarmError(Code.Unauthenticated, message, o);
    if (status === 403)
      return new ArswarmError(Code.PermissionDenied, message, {
        ...o,
        hint: "the coordinator's Role allows get/patch/update on deployments/scale of its worker Deployments only",
      });
    if (status === 409) return new ArswarmError(Code.Aborted, message, { ...o, retryable: true });
    if (status === 400 || status === 422) return new ArswarmError(Code.InvalidArgument, message, o);
    if (status === 429 || status >= 500) return new ArswarmError(Code.Unavailable, message, o);
    return new ArswarmError(Code.Unknown, message, o);
  }
  return new ArswarmError(Code.Unavailable, `${what}: cannot reach the Kubernetes API`, {
    cause: err,
    reason: 'k8s_unreachable',
  });
}

function apiMessage(body: unknown): string {
  if (typeof body === 'string') {
    try {
      return apiMessage(JSON.parse(body));
    } catch {
      return body.slice(0, 200);
    }
  }
  if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string')
    return (body as { message: string }).message;
  return '';
}

interface Client {
  readonly apps: AppsV1Api;
  readonly namespace: string;
}

/** Loads the client library and the kubeconfig (or the in-cluster service account). */
async function connectKubernetes(o: ResolvedKubernetesScalerOptions): Promise<Client> {
  const k8s = await loadClient();
  const kc = loadKubeConfig(k8s, o.kubeconfig);
  const namespace = o.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return { apps: kc.makeApiClient(k8s.AppsV1Api), namespace };
}

/**
 * Creates the scaler: options are validated now; the client library and the
 * kubeconfig are loaded once, on the first call. Every call talks to the API
 * server.
 */
export function createKubernetesScaler(options: KubernetesScalerOptions): KubernetesScaler {
  const o = resolveKubernetesScalerOptions(options);
  let connecting: Promise<Client> | undefined;
  const client = (): Promise<Client> => {
    connecting ??= connectKubernetes(o);
    // A failed load is retried on the next call rather than remembered.
    connecting.catch(() => (connecting = undefined));
    return connecting;
  };

  const deploymentOf = (pool: string | undefined): { pool: string; name: string } => {
    const p = pool ?? o.defaultPool;
    const name = o.deployments[p];
    if (name === undefined)
      throw new ArswarmError(
        Code.NotFound,
        `no worker pool "${p}" (pools: ${Object.keys(o.deployments).join(', ')})`,
        { field: 'pool', reason: 'unknown_pool' },
      );
    return { pool: p, name };
  };

  const scale = async (replicas: number, pool?: string): Promise<ScaleResult> => {
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > o.maxReplicas)
      throw new ArswarmError(
        Code.InvalidArgument,
        `replicas must be a whole number from 0 to ${o.maxReplicas}, not ${replicas}`,
        { field: 'replicas' },
      );
    const target = deploymentOf(pool);
    const { apps, namespace } = await client();
    const what = `scale deployment ${namespace}/${target.name}`;
    for (let attempt = 0; ; attempt++) {
      let current: V1Scale;
      try {
        current = await apps.readNamespacedDeploymentScale({ name: target.name, namespace });
      } catch (err) {
        throw kubernetesError(err, what);
      }
      const previous = current.spec?.replicas ?? 0;
      if (previous === replicas) return { pool: target.pool, previous, desired: replicas };
      // A replace carrying the resourceVersion just read fails with 409 if
      // someone (KEDA, kubectl, helm) changed the count meanwhile, so
      // `previous` is exactly what this call replaced.
      const body: V1Scale = {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: {
          name: target.name,
          namespace,
          resourceVersion: current.metadata?.resourceVersion,
        },
        spec: { replicas },
      };
      try {
        await apps.replaceNamespacedDeploymentScale({ name: target.name, namespace, body });
        return { pool: target.pool, previous, desired: replicas };
      } catch (err) {
        const e = kubernetesError(err, what);
        if (e.code !== Code.Aborted || attempt >= o.maxConflictRetries) throw e;
      }
    }
  };

  const status = async (pool: string): Promise<PoolStatus> => {
    const target = deploymentOf(pool);
    const { apps, namespace } = await client();
    try {
      const d = await apps.readNamespacedDeployment({ name: target.name, namespace });
      return { pool: target.pool, desired: d.spec?.replicas ?? 0, ready: d.status?.readyReplicas ?? 0 };
    } catch (err) {
      throw kubernetesError(err, `read deployment ${namespace}/${target.name}`);
    }
  };

  return {
    options: o,
    async namespace(): Promise<string> {
      return (await client()).namespace;
    },
    scale,
    async current(pool?: string): Promise<PoolStatus[]> {
      const pools = pool === undefined ? Object.keys(o.deployments) : [deploymentOf(pool).pool];
      return Promise.all(pools.map(status));
    },
  };
}
