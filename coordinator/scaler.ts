/** Scaling the worker count: one interface, a local and a Kubernetes implementation. */

export interface PoolStatus {
  pool: string;
  /** Workers asked for. */
  desired: number;
  /** Workers running now (when known). */
  ready: number;
}

export interface ScaleResult {
  pool: string;
  previous: number;
  desired: number;
}

/** Something that can change how many workers run. */
export interface WorkerScaler {
  /** Sets the worker count of a pool (the default pool when absent). Scaling down drains. */
  scale(replicas: number, pool?: string): Promise<ScaleResult>;
  current(pool?: string): Promise<PoolStatus[]>;
}
