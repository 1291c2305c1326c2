/** Scaling worker pools on Kubernetes (the Deployment `scale` subresource). */
export { createKubernetesScaler, kubernetesError, type KubernetesScaler } from './kubernetes-scaler.js';
export {
  DEFAULT_MAX_CONFLICT_RETRIES,
  DEFAULT_MAX_REPLICAS,
  ENV_KUBECONFIG,
  ENV_NAMESPACE,
  ENV_WORKER_DEPLOYMENTS,
  kubernetesScalerOptionsFromEnv,
  parseWorkerDeployments,
  resolveKubernetesScalerOptions,
  type KubernetesScalerOptions,
  type ResolvedKubernetesScalerOptions,
} from './options.js';
