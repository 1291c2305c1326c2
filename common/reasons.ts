/**
 * Every machine-readable reason an ArswarmError may carry, in one table: the
 * string callers branch on, tests assert and docs name, what it means, and the
 * status code it usually travels with. `Reason` is the table's key, so a typo
 * in a reason is a compile error rather than a branch that never matches.
 *
 * The code is the usual one, not a rule: a few reasons travel with another
 * code where the context says more (a patch that does not apply at the worker
 * is FailedPrecondition, in a proposal it is InvalidArgument). Human-readable
 * verdict and rejection texts in ledger facts are prose and not listed here.
 */
import { Code } from './code.js';

export interface ReasonInfo {
  readonly code: Code;
  readonly summary: string;
}

export const REASONS = {
  // Requests and configuration.
  malformed_request: { code: Code.InvalidArgument, summary: 'a gRPC request did not decode' },
  invalid_config: { code: Code.InvalidArgument, summary: 'a config file or section breaks its schema' },
  invalid_yaml: { code: Code.InvalidArgument, summary: 'a YAML file does not parse' },
  invalid_tokens: { code: Code.InvalidArgument, summary: 'the API tokens file breaks its schema' },
  bad_pattern: { code: Code.InvalidArgument, summary: 'a metric pattern is not a usable regular expression' },
  override_value: {
    code: Code.InvalidArgument,
    summary: 'a constant override has a value of the wrong kind',
  },
  override_missing: {
    code: Code.InvalidArgument,
    summary: 'a constant override names no module-level assignment',
  },
  target_mismatch: {
    code: Code.FailedPrecondition,
    summary: 'the target repository does not match arswarm.yaml',
  },
  unknown_pool: { code: Code.NotFound, summary: 'a scale request names no configured worker pool' },

  // Authentication and roles.
  no_token: { code: Code.Unauthenticated, summary: 'the call carries no bearer token' },
  bad_token: { code: Code.Unauthenticated, summary: 'the bearer token matches no known token' },
  role: { code: Code.PermissionDenied, summary: "the token's role may not call this method" },
  code_auth: { code: Code.Unauthenticated, summary: 'the CodeService refused the worker token' },
  nats_auth: { code: Code.Unauthenticated, summary: 'the NATS server refused the credentials' },

  // Patch rules (common/diff/refusal.ts PatchRefusal), checked at submission and again at the worker.
  empty: { code: Code.InvalidArgument, summary: 'the diff is empty' },
  too_large: { code: Code.InvalidArgument, summary: 'the diff is over the size limit' },
  invalid_utf8: { code: Code.InvalidArgument, summary: 'the diff is not valid UTF-8' },
  malformed: { code: Code.InvalidArgument, summary: 'the diff does not parse as a unified diff' },
  binary: { code: Code.InvalidArgument, summary: 'the diff changes a binary file' },
  rename: { code: Code.InvalidArgument, summary: 'the diff renames or copies a file' },
  symlink: { code: Code.InvalidArgument, summary: 'the diff creates or changes a symlink' },
  absolute_path: { code: Code.InvalidArgument, summary: 'the diff names an absolute path' },
  path_traversal: { code: Code.InvalidArgument, summary: 'the diff names a path outside the repository' },
  locked_file: { code: Code.InvalidArgument, summary: 'the patch edits a locked file' },
  not_editable: { code: Code.InvalidArgument, summary: 'the patch edits a file outside the editable globs' },
  protected_line: { code: Code.InvalidArgument, summary: 'the patch adds or removes a protected line' },
  patch_does_not_apply: { code: Code.FailedPrecondition, summary: 'the patch does not apply to its parent' },
  syntax_error: { code: Code.InvalidArgument, summary: 'a patched Python file does not compile' },
  checker_unavailable: { code: Code.FailedPrecondition, summary: 'the semantic checker could not run' },

  // Semantic rules (common/python-check/rules.ts SEMANTIC_RULES): the first broken rule is the reason.
  'locked-name-assign': {
    code: Code.InvalidArgument,
    summary: 'a name imported from a locked file is rebound',
  },
  'locked-module-mutation': { code: Code.InvalidArgument, summary: 'a locked module is mutated' },
  'builtin-override': { code: Code.InvalidArgument, summary: 'a builtin is overridden' },
  'eval-result-mutation': {
    code: Code.InvalidArgument,
    summary: "an evaluation function's result is altered",
  },
  'frozen-region': { code: Code.InvalidArgument, summary: 'a frozen region of a file is changed' },
  'exit-hook': { code: Code.InvalidArgument, summary: 'an exit hook is installed' },
  'output-redirect': { code: Code.InvalidArgument, summary: 'stdout or stderr is redirected' },
  'background-task': { code: Code.InvalidArgument, summary: 'a thread or process outlives the run' },
  'early-exit': { code: Code.InvalidArgument, summary: 'the script exits before reporting' },
  'dynamic-code': { code: Code.InvalidArgument, summary: 'code is built and run at run time' },
  'result-block-print': { code: Code.InvalidArgument, summary: 'a string prints a result-block key' },
  'library-monkeypatch': { code: Code.InvalidArgument, summary: 'a library function is replaced' },
  'locked-file-access': { code: Code.InvalidArgument, summary: 'a locked file is opened' },
  'syntax-error': { code: Code.InvalidArgument, summary: 'the patched file does not parse (semantic check)' },

  // Candidates and the ladder.
  missing_title: { code: Code.InvalidArgument, summary: 'a candidate has no title' },
  duplicate: { code: Code.AlreadyExists, summary: 'the same diff on the same parent is known' },
  duplicate_title: { code: Code.AlreadyExists, summary: 'an idea with the same title is in flight' },
  near_duplicate: { code: Code.AlreadyExists, summary: 'an idea with the same effect is known' },
  stale: { code: Code.Aborted, summary: 'a proposal no longer applies to the moved head' },
  conflict: { code: Code.Aborted, summary: 'a patch conflicts with the head it is carried onto' },
  head_moved: { code: Code.Aborted, summary: 'the shared branch moved during a merge' },
  not_in_review: { code: Code.FailedPrecondition, summary: 'the candidate is not waiting for review' },
  is_rerun: { code: Code.FailedPrecondition, summary: 'the trial is itself a rerun' },
  not_finished: { code: Code.FailedPrecondition, summary: 'the trial has not finished' },
  no_rerun: { code: Code.Unimplemented, summary: 'this coordinator cannot rerun trials' },
  no_scaler: { code: Code.FailedPrecondition, summary: 'this coordinator has no worker scaler' },

  // Workers and code transfer.
  bad_commit: { code: Code.InvalidArgument, summary: 'a parent commit is not a full sha' },
  unknown_commit: { code: Code.NotFound, summary: 'the code server does not have the commit' },
  fetch_failed: { code: Code.Unavailable, summary: 'the worker could not fetch the code' },
  git_failed: { code: Code.Internal, summary: 'a git command failed at the worker' },
  setup_input_missing: { code: Code.NotFound, summary: 'a setup input is missing at the parent commit' },
  setup_failed: { code: Code.Unavailable, summary: "the target's setup command failed" },
  nats_server_missing: { code: Code.FailedPrecondition, summary: 'no nats-server binary was found' },

  // Proposers: shared, the Claude conversation and its edits, the Messages API.
  aborted: { code: Code.Cancelled, summary: 'the work was cancelled' },
  timeout: { code: Code.DeadlineExceeded, summary: 'a proposer gave no proposal in time' },
  budget_exhausted: { code: Code.ResourceExhausted, summary: "a proposer's budget is spent" },
  unsupported: { code: Code.Unimplemented, summary: 'a proposed diff adds, deletes or renames files' },
  model_refusal: { code: Code.Aborted, summary: 'the model declined to propose' },
  no_candidate: { code: Code.Aborted, summary: 'the model answered without submitting a candidate' },
  invalid_candidate: { code: Code.Aborted, summary: 'a submitted candidate was refused' },
  too_many_turns: { code: Code.Aborted, summary: 'no valid candidate within the turn limit' },
  invalid_tool_input: { code: Code.InvalidArgument, summary: "a tool call's input breaks its schema" },
  unknown_tool: { code: Code.InvalidArgument, summary: 'the model called a tool that does not exist' },
  not_found: { code: Code.NotFound, summary: 'a file (or API resource) does not exist' },
  search_not_found: { code: Code.InvalidArgument, summary: "an edit's search string matches nothing" },
  search_ambiguous: { code: Code.InvalidArgument, summary: "an edit's search string matches more than once" },
  no_api_key: { code: Code.FailedPrecondition, summary: 'the Claude proposer has no API key' },
  connection: { code: Code.Unavailable, summary: 'the Messages API is unreachable' },
  rate_limited: { code: Code.ResourceExhausted, summary: 'the Messages API answered 429' },
  overloaded: { code: Code.Unavailable, summary: 'the Messages API answered 529' },
  api_error: { code: Code.Unavailable, summary: 'the Messages API answered 5xx' },
  unauthenticated: { code: Code.Unauthenticated, summary: 'the Messages API answered 401' },
  permission_denied: { code: Code.PermissionDenied, summary: 'the Messages API answered 403' },
  request_too_large: { code: Code.InvalidArgument, summary: 'the Messages API answered 413' },
  bad_request: { code: Code.InvalidArgument, summary: 'the Messages API refused the request' },
  optuna_unavailable: { code: Code.FailedPrecondition, summary: 'python3 with optuna is not installed' },
  optuna_exited: { code: Code.Unavailable, summary: 'the optuna helper process exited' },
  optuna_timeout: { code: Code.Unavailable, summary: 'the optuna helper did not answer in time' },
  optuna_error: { code: Code.InvalidArgument, summary: 'the optuna helper refused a request' },

  // Kubernetes scaling (plus `k8s_<HTTP status>` for an API answer, see KubernetesReason).
  k8s_client: { code: Code.FailedPrecondition, summary: '@kubernetes/client-node cannot be loaded' },
  kubeconfig: { code: Code.FailedPrecondition, summary: 'the kubeconfig cannot be loaded' },
  k8s_unreachable: { code: Code.Unavailable, summary: 'the Kubernetes API is unreachable' },
} as const satisfies Record<string, ReasonInfo>;

/** A Kubernetes API answer, by HTTP status (`k8s_403`); its code follows the status. */
export type KubernetesReason = `k8s_${number}`;

/** A machine-readable reason: a key of REASONS, or a Kubernetes status. */
export type Reason = keyof typeof REASONS | KubernetesReason;

/** Whether a string (say, from the wire) is a reason this build knows. */
export function isReason(s: string): s is Reason {
  return Object.hasOwn(REASONS, s) || /^k8s_\d+$/.test(s);
}

/** What a reason means, when this build knows it. */
export function reasonInfo(reason: string): ReasonInfo | undefined {
  return Object.hasOwn(REASONS, reason) ? REASONS[reason as keyof typeof REASONS] : undefined;
}
