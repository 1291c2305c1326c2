/**
 * Turns how a run ended plus what it printed into a trial status and reason.
 * Order matters: the worker's own verdicts (infra, integrity, timeout) come
 * before anything the target printed.
 */
import { TrialStatus } from '../gen/arswarm/v1/trial_pb.js';
import type { ParsedOutput } from './output-parser.js';

/** How the target's process ended. */
export interface RunEnd {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The worker killed it at the wall-clock limit. */
  readonly timedOut: boolean;
  /** The worker killed it because it is shutting down. */
  readonly aborted: boolean;
}

export interface Verdict {
  readonly status: TrialStatus;
  /** Empty for OK. */
  readonly reason: string;
  /** The target metric when status is OK. */
  readonly metric?: number;
}

/** Classifies a finished run. `integrity` is the first integrity failure found after the run, if any. */
export function classify(end: RunEnd, out: ParsedOutput, metricName: string, integrity?: string): Verdict {
  if (end.aborted) return { status: TrialStatus.INFRA, reason: 'worker shutting down' };
  if (integrity) return { status: TrialStatus.INTEGRITY, reason: integrity };
  // A second result block or a repeated key: whatever else happened, the output is not trusted.
  if (out.integrity) return { status: TrialStatus.INTEGRITY, reason: out.integrity.reason };
  if (end.timedOut)
    return { status: TrialStatus.TIMEOUT, reason: 'wall-clock limit reached; process group killed' };
  const failed = end.exitCode !== 0 || end.signal !== null;
  // SIGKILL we did not send is the kernel's OOM killer in practice.
  if (end.signal === 'SIGKILL')
    return { status: TrialStatus.OOM, reason: 'killed by SIGKILL (out of memory?)' };
  // A shell reports a child killed by SIGKILL as exit status 128 + 9.
  if (end.exitCode === 137)
    return { status: TrialStatus.OOM, reason: 'exit status 137: killed by SIGKILL (out of memory?)' };
  if (out.oomText && (failed || !(metricName in out.metrics))) {
    return { status: TrialStatus.OOM, reason: 'out-of-memory error in the output' };
  }
  if (out.nonFinite.includes(metricName))
    return { status: TrialStatus.NAN, reason: `${metricName} is not finite` };
  if (out.failLine) return { status: TrialStatus.NAN, reason: 'the run printed FAIL (NaN or diverged loss)' };
  if (failed) {
    const how = end.signal ? `killed by ${end.signal}` : `exit code ${end.exitCode}`;
    return { status: TrialStatus.CRASH, reason: out.hasBlock ? how : `${how}; no metric block` };
  }
  if (!out.hasBlock)
    return { status: TrialStatus.CRASH, reason: 'no metric block (a `---` line then `key: value` lines)' };
  const metric = out.metrics[metricName];
  if (metric === undefined)
    return { status: TrialStatus.CRASH, reason: `metric ${metricName} missing from the block` };
  return { status: TrialStatus.OK, reason: '', metric };
}
