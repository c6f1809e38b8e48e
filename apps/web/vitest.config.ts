import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    // Building the page, starting four server processes and Chromium on a busy 2-core machine.
    hookTimeout: 120_000,
    testTimeout: 30_000,
  },
});
