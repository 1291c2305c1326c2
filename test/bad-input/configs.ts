/**
 * Bad `arswarm.yaml` files, each with the error loading it must give: a code,
 * the field it names (`ArswarmError.field`) and a message that names it too.
 * Most are the landscape example's config with one change.
 */
import { Code } from '../../common/errors.js';

/** A parsed config to change in place. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RawConfig = Record<string, any>;

export interface ConfigCase {
  readonly name: string;
  /** Changes the valid config, or gives the file's text (a string), or no file at all (null). */
  readonly input: ((c: RawConfig) => void) | string | null;
  readonly code: Code;
  /** The field the error names; undefined when the error is about the file as a whole. */
  readonly field: string | undefined;
  readonly message: RegExp;
}

export const CONFIG_CASES: readonly ConfigCase[] = [
  {
    name: 'wrong type (replicates as a word)',
    input: (c) => (c.stages[0].replicates = 'three'),
    code: Code.InvalidArgument,
    field: 'stages[0].replicates',
    message: /stages\[0\]\.replicates: .*expected number/,
  },
  {
    name: 'wrong type (editable as a string)',
    input: (c) => (c.target.editable = 'train.py'),
    code: Code.InvalidArgument,
    field: 'target.editable',
    message: /target\.editable: .*expected array/,
  },
  {
    name: 'out of range (negative workers)',
    input: (c) => (c.swarm.workers = -1),
    code: Code.InvalidArgument,
    field: 'swarm.workers',
    message: /swarm\.workers: Too small/,
  },
  {
    name: 'unknown top-level key',
    input: (c) => (c.stagez = []),
    code: Code.InvalidArgument,
    field: '(root)',
    message: /\(root\): Unrecognized key: "stagez"/,
  },
  {
    name: 'unknown nested key (a typo)',
    input: (c) => (c.swarm.wrokers = 4),
    code: Code.InvalidArgument,
    field: 'swarm',
    message: /swarm: Unrecognized key: "wrokers"/,
  },
  {
    name: 'duplicate stage names',
    input: (c) => (c.stages[1].name = 'screen'),
    code: Code.InvalidArgument,
    field: 'stages[1].name',
    message: /stages\[1\]\.name: duplicate stage name "screen"/,
  },
  {
    name: 'bad regex in protected',
    input: (c) => (c.target.protected = ['^print\\(f"val_bpb', '(unclosed']),
    code: Code.InvalidArgument,
    field: 'target.protected[1]',
    message: /target\.protected\[1\]: must be a valid regular expression/,
  },
  {
    name: 'missing required field (command)',
    input: (c) => delete c.target.command,
    code: Code.InvalidArgument,
    field: 'target.command',
    message: /target\.command: /,
  },
  {
    name: 'bad enum (merge_policy)',
    input: (c) => (c.swarm.merge_policy = 'sometimes'),
    code: Code.InvalidArgument,
    field: 'swarm.merge_policy',
    message: /swarm\.merge_policy: .*"review"\|"auto"/,
  },
  {
    name: 'timeout shorter than the budget',
    input: (c) => (c.stages[2].timeout_seconds = 10),
    code: Code.InvalidArgument,
    field: 'stages[2].timeout_seconds',
    message: /stages\[2\]\.timeout_seconds: must be >= budget_seconds/,
  },
  {
    name: 'API token too short (the token is not quoted back)',
    input: (c) => (c.api = { tokens: [{ name: 'ana', token: 'short-secret', role: 'admin' }] }),
    code: Code.InvalidArgument,
    field: 'api.tokens[0].token',
    message: /api\.tokens\[0\]\.token: must be at least 16 characters/,
  },
  {
    name: 'unknown role',
    input: (c) => (c.api = { tokens: [{ name: 'ana', token: 'a-long-enough-token-1', role: 'root' }] }),
    code: Code.InvalidArgument,
    field: 'api.tokens[0].role',
    message: /api\.tokens\[0\]\.role: /,
  },
  {
    name: 'TLS certificate without its key',
    input: (c) => (c.api = { tls_cert_file: 'cert.pem' }),
    code: Code.InvalidArgument,
    field: 'api.tls_key_file',
    message: /api\.tls_key_file: give both tls_cert_file and tls_key_file/,
  },
  {
    name: 'stage constant no stage sets',
    input: (c) => (c.target.constants = { LEARNING_RATE: 'train.py' }),
    code: Code.InvalidArgument,
    field: 'target.constants.LEARNING_RATE',
    message: /target\.constants\.LEARNING_RATE: no stage sets LEARNING_RATE/,
  },
  {
    name: 'stage constant in a file that is neither editable nor locked',
    input: (c) => {
      c.target.constants = { DEPTH: 'model.py' };
    },
    code: Code.InvalidArgument,
    field: 'target.constants.DEPTH',
    message: /target\.constants\.DEPTH: model\.py is neither editable nor locked/,
  },
  {
    name: 'stage constant whose value is code, not a literal',
    input: (c) => {
      c.target.constants = { DEPTH: 'train.py' };
      c.stages[2].env.DEPTH = '__import__("os")';
    },
    code: Code.InvalidArgument,
    field: 'stages[2].env.DEPTH',
    message:
      /stages\[2\]\.env\.DEPTH: is written into train\.py as the constant DEPTH, so it must be a Python literal/,
  },
  {
    name: 'TIME_BUDGET in a stage env (budget_seconds sets it)',
    input: (c) => (c.stages[1].env.TIME_BUDGET = 600),
    code: Code.InvalidArgument,
    field: 'stages[1].env.TIME_BUDGET',
    message: /stages\[1\]\.env\.TIME_BUDGET: TIME_BUDGET is exported from budget_seconds/,
  },
  {
    name: 'claude proposer with a bad base_url',
    input: (c) => (c.proposers = [{ kind: 'claude', base_url: 'not a url' }]),
    code: Code.InvalidArgument,
    field: 'proposers[0].base_url',
    message: /proposers\[0\]\.base_url: /,
  },
  {
    name: 'unknown proposer kind',
    input: (c) => (c.proposers = [{ kind: 'gpt' }]),
    code: Code.InvalidArgument,
    field: 'proposers[0].kind',
    message: /proposers\[0\]\.kind: /,
  },
  {
    name: 'bad YAML (with its line number)',
    input: 'target:\n  repo: .\n  editable: [train.py\nstages: []\n',
    code: Code.InvalidArgument,
    field: undefined,
    message: /is not valid YAML at line \d+/,
  },
  {
    name: 'bad YAML next to a token (the token is not quoted back)',
    input: "api:\n  tokens:\n    - { name: ops, token: 'tok-4c1d2b3a9e8f7a6b', role: admin\nstages: []\n",
    code: Code.InvalidArgument,
    field: undefined,
    message: /is not valid YAML at line \d+, column \d+: (?!.*tok-4c1d)/,
  },
  {
    name: 'bad YAML (tab indentation)',
    input: 'target:\n\trepo: .\n',
    code: Code.InvalidArgument,
    field: undefined,
    message: /is not valid YAML at line 2/,
  },
  {
    name: 'empty file',
    input: '',
    code: Code.InvalidArgument,
    field: '(root)',
    message: /\(root\): .*expected object/,
  },
  {
    name: 'missing file',
    input: null,
    code: Code.NotFound,
    field: 'path',
    message: /cannot read config .*arswarm\.yaml/,
  },
];
