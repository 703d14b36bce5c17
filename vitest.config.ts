import { defineConfig } from 'vitest/config';

// The JSON report feeds .ci/run's closing "N passed, N failed" line; vitest does not print one.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: '.test-artifacts/vitest-report.json' },
  },
});
