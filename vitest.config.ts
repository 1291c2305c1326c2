import { defineConfig } from 'vitest/config';

// Unit tests sit beside the code (*.spec.ts); integration and e2e tests live in
// test/ (*.test.ts) and start their own nats-server, git repos and processes.
export default defineConfig({
  test: {
    include: ['{common,coordinator,worker,cli,web,bench,examples}/**/*.spec.ts', 'test/**/*.test.ts'],
    exclude: ['node_modules/**', '.tools/**'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
