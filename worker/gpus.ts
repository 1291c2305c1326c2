/**
 * GPU discovery through nvidia-smi, and the GPU class that keeps results from
 * different hardware apart (baselines and noise are per class).
 */
import { execFile } from 'node:child_process';
import { ArswarmError, Code } from '../common/errors.js';

/** The class of a worker without a GPU. */
export const CPU_CLASS = 'cpu';

/** One GPU as nvidia-smi reports it. */
export interface GpuInfo {
  /** nvidia-smi index, as CUDA_VISIBLE_DEVICES takes it. */
  readonly index: number;
  readonly name: string;
  readonly memoryMb: number;
  readonly uuid: string;
  /** e.g. `H100-80GB`. */
  readonly gpuClass: string;
}

/** What one trial loop runs on. `gpu` is absent in CPU mode. */
export interface Device {
  readonly gpuClass: string;
  /** 0 in CPU mode (only stages without a memory floor are pulled). */
  readonly memoryMb: number;
  readonly gpu?: GpuInfo;
}

const VENDOR_WORDS = new Set(['nvidia', 'geforce', 'tesla', 'quadro']);
const FORM_FACTOR = /^(pcie|sxm\d*|hbm\d*e?|nvl|\d+gb|mig|max-q|oem)$/i;
const MARKETED_GB = [2, 3, 4, 6, 8, 10, 11, 12, 16, 20, 24, 32, 40, 48, 64, 80, 94, 96, 141, 180, 192, 288];

/** Rounds MiB to the size on the box (81559 MiB -> 80, 23028 MiB -> 24). */
export function marketedGb(memoryMb: number): number {
  const gib = memoryMb / 1024;
  let best = MARKETED_GB[0]!;
  for (const g of MARKETED_GB) if (Math.abs(g - gib) < Math.abs(best - gib)) best = g;
  return Math.abs(best - gib) / gib < 0.1 ? best : Math.round(gib);
}

/** `NVIDIA H100 80GB HBM3` + 81559 MiB -> `H100-80GB`; `NVIDIA GeForce RTX 3090` -> `RTX3090-24GB`. */
export function gpuClass(name: string, memoryMb: number): string {
  const model = name
    .split(/[\s-]+/)
    .filter((w) => w && !VENDOR_WORDS.has(w.toLowerCase()) && !FORM_FACTOR.test(w))
    .join('')
    .replace(/[^A-Za-z0-9]/g, '');
  return `${model || 'GPU'}-${marketedGb(memoryMb)}GB`;
}

/** Parses `index, name, memory.total, uuid` CSV lines (noheader; units optional). */
export function parseGpuCsv(csv: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const line of csv.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split(',').map((s) => s.trim());
    const index = Number(f[0]);
    const memoryMb = Number.parseFloat(f[2] ?? '');
    if (f.length < 4 || !Number.isInteger(index) || !Number.isFinite(memoryMb)) {
      throw new ArswarmError(Code.FailedPrecondition, `cannot parse nvidia-smi line: ${line}`);
    }
    out.push({ index, name: f[1]!, memoryMb, uuid: f[3]!, gpuClass: gpuClass(f[1]!, memoryMb) });
  }
  return out;
}

function exec(file: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((ok, fail) =>
    execFile(file, args, { timeout: timeoutMs }, (err, stdout) => (err ? fail(err) : ok(stdout))),
  );
}

/** Lists GPUs; an empty list when nvidia-smi is absent (CPU mode). */
export async function discoverGpus(nvidiaSmi: string): Promise<GpuInfo[]> {
  let csv: string;
  try {
    csv = await exec(nvidiaSmi, [
      '--query-gpu=index,name,memory.total,uuid',
      '--format=csv,noheader,nounits',
    ]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ArswarmError(Code.FailedPrecondition, `nvidia-smi failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseGpuCsv(csv);
}

/** The devices a worker runs loops on, from the `gpus` option. */
export async function selectDevices(
  gpus: 'all' | 'none' | readonly number[],
  nvidiaSmi: string,
): Promise<Device[]> {
  if (gpus === 'none') return [{ gpuClass: CPU_CLASS, memoryMb: 0 }];
  const found = await discoverGpus(nvidiaSmi);
  if (gpus === 'all') {
    return found.length
      ? found.map((g) => ({ gpuClass: g.gpuClass, memoryMb: g.memoryMb, gpu: g }))
      : [{ gpuClass: CPU_CLASS, memoryMb: 0 }];
  }
  return gpus.map((i) => {
    const g = found.find((x) => x.index === i);
    if (!g)
      throw new ArswarmError(
        Code.InvalidArgument,
        `no GPU with index ${i} (found ${found.map((x) => x.index).join(',') || 'none'})`,
        { field: 'gpus' },
      );
    return { gpuClass: g.gpuClass, memoryMb: g.memoryMb, gpu: g };
  });
}

/**
 * GPU memory in MiB used by the given processes, from
 * `nvidia-smi --query-compute-apps`; undefined when nvidia-smi cannot say.
 */
export async function gpuMemoryOfPids(
  nvidiaSmi: string,
  gpu: GpuInfo,
  pids: ReadonlySet<number>,
): Promise<number | undefined> {
  try {
    const csv = await exec(
      nvidiaSmi,
      ['-i', String(gpu.index), '--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'],
      5000,
    );
    let sum = 0;
    let seen = false;
    for (const line of csv.split('\n')) {
      const [pid, mem] = line.split(',').map((s) => s.trim());
      if (pid && pids.has(Number(pid)) && Number.isFinite(Number.parseFloat(mem ?? ''))) {
        sum += Number.parseFloat(mem!);
        seen = true;
      }
    }
    return seen ? sum : undefined;
  } catch {
    return undefined;
  }
}
