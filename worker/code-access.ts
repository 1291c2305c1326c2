/**
 * A start-up check that CodeService accepts this worker's token, so a wrong
 * or missing token stops the worker with one clear error instead of failing
 * every trial's code fetch as infra.
 */
import { ArswarmError, Code } from '../common/errors.js';
import type { BundleSource } from './code-cache.js';

/** How long the check waits for CodeService before leaving the question to the first fetch. @default 5000 */
export const CODE_ACCESS_TIMEOUT_MS = 5000;

/**
 * Asks for a bundle of no commit: an admitted token hears InvalidArgument
 * (nothing is read or run), a refused one Unauthenticated or PermissionDenied.
 * An unreachable coordinator is not an error here (it may start later).
 */
export async function checkCodeAccess(
  client: BundleSource,
  addr: string,
  hasToken: boolean,
  timeoutMs = CODE_ACCESS_TIMEOUT_MS,
): Promise<void> {
  try {
    for await (const chunk of client.fetchBundle(
      { want: '', have: [] },
      { signal: AbortSignal.timeout(timeoutMs) },
    )) {
      void chunk;
      break;
    }
  } catch (err) {
    const e = ArswarmError.from(err);
    if (e.code !== Code.Unauthenticated && e.code !== Code.PermissionDenied) return;
    throw new ArswarmError(e.code, `CodeService at ${addr} refused this worker: ${e.message}`, {
      reason: 'code_auth',
      cause: err,
      hint: hasToken
        ? "the worker token does not match the coordinator's (api.worker_token_file or <state_dir>/worker-token)"
        : 'give the worker token with --token-file or ARSWARM_WORKER_TOKEN',
    });
  }
}
