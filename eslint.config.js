// One linter config for the whole repo (flat config, typescript-eslint).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Subjects live in common/subjects.ts only. Every block below that sets
// no-restricted-syntax repeats this (a later block replaces a rule's options).
const SUBJECT_LITERALS = {
  selector: 'Literal[value=/^arswarm\\.(trials|results|events)/]',
  message: 'NATS subjects are defined in common/subjects.ts only.',
};

// Folder boundaries (STYLE.md 1): coordinator/ and worker/ never import each
// other, common/ imports neither, and every other part reaches them through
// their public entry (coordinator/index.ts, worker/index.ts) only. gen/ may be
// imported from anywhere; test/ may import the internals it tests. Matched on
// the import string: `(../)+name/` is the top-level folder `name`.
const TOP = (folders) => `^(\\.\\./)+(${folders})/`;
const DEEP = `${TOP('coordinator|worker')}(?!index\\.js$)`;
const boundary = (regex, message) => ({
  imports: { patterns: [{ regex, message }] },
  // Dynamic import() too, which no-restricted-imports does not see (the CLI
  // loads the coordinator lazily). esquery regexes cannot hold a slash: \x2F.
  syntax: {
    selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\x2F')}/]`,
    message,
  },
});
const BOUNDARIES = [
  {
    files: ['coordinator/**'],
    ...boundary(
      TOP('worker|cli|bench'),
      'coordinator/ never imports worker/, cli/ or bench/ (share through common/).',
    ),
  },
  {
    files: ['worker/**'],
    ...boundary(
      TOP('coordinator|cli|bench'),
      'worker/ never imports coordinator/, cli/ or bench/ (share through common/).',
    ),
  },
  {
    files: ['common/**'],
    ...boundary(
      TOP('coordinator|worker|cli|bench'),
      'common/ imports neither coordinator/ nor worker/ (nor cli/, bench/).',
    ),
  },
  {
    files: ['cli/**', 'web/**', 'bench/**', 'bin/**', 'scripts/**'],
    // bench/sim/ is the in-process simulator: it assembles the scheduler,
    // merger, intake and trial factory from their own modules without NATS,
    // the one part outside coordinator/ and test/ that needs them.
    ignores: ['bench/sim/**'],
    ...boundary(
      DEEP,
      'import coordinator/ and worker/ through coordinator/index.js and worker/index.js only.',
    ),
  },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'gen/**', '.tools/**', 'test-results/**', 'web/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        document: 'readonly',
        window: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', SUBJECT_LITERALS],
    },
  },
  ...BOUNDARIES.map(({ files, ignores, imports, syntax }) => ({
    files,
    ...(ignores ? { ignores } : {}),
    rules: {
      'no-restricted-imports': ['error', imports],
      'no-restricted-syntax': ['error', SUBJECT_LITERALS, syntax],
    },
  })),
);
