import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // dist/ built once before every file (only if a source changed since `npm run build`): test/build-once.ts.
    globalSetup: ['test/build-once.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Vitest's default is one worker per core but one (2 − 1 on the 2-core CI machine): the files then run one after
    // another, 1,259 s. Most files wait on child processes, servers and Chromium as much as on the CPU, so two
    // workers finish sooner on 2 cores, busy or not.
    maxWorkers: 2,
  },
});
