import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Agent suites each mount their own loop pool and start real postgres; two at a time fits 2 cores.
    maxWorkers: 2,
  },
});
