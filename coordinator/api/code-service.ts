/**
 * CodeService behind the worker token: every call is authenticated and its
 * role checked (CODE_METHOD_ROLES) before a byte of the repo is read.
 */
import type { CodeService } from '../../gen/arswarm/v1/code_pb.js';
import type { ServiceImpl } from '../../common/grpc.js';
import { authorizationOf, type Authenticator } from './auth.js';

/** The CodeService implementation (grpc-js adapter shape). */
export type CodeImpl = ServiceImpl<(typeof CodeService)['method']>;

/** What serves bundles: the coordinator's bundle cache. */
export type BundleFetch = (want: string, have: readonly string[]) => ReturnType<CodeImpl['fetchBundle']>;

/** CodeService answering only callers whose token CODE_METHOD_ROLES admits (Unauthenticated / PermissionDenied otherwise). */
export function codeService(auth: Authenticator, fetch: BundleFetch): CodeImpl {
  return {
    fetchBundle(req, ctx) {
      // Thrown before iteration starts: the adapter turns it into the call's status.
      auth.authorizeCode(authorizationOf(ctx.metadata), 'fetchBundle');
      return fetch(req.want, req.have);
    },
  };
}
