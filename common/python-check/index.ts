/** The semantic patch check shared by the coordinator's intake and the worker. */
export { SemanticChecker, wantsCheck, CHECKER_PATH, type PatchedFile } from './semantic-check.js';
export { checkFrozenRegion } from './frozen-region.js';
export {
  PythonServer,
  DEFAULT_PYTHON_TIMEOUT_MS,
  type PythonAnswer,
  type PythonServerOptions,
} from './python-server.js';
export {
  formatViolation,
  SEMANTIC_RULES,
  type FrozenRegion,
  type IntegrityRules,
  type SemanticRule,
  type Violation,
} from './rules.js';
