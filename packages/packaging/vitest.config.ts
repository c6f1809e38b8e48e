import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  // Each file installs and builds a whole project: one at a time on a 2-core machine.
  test: { include: ['test/**/*.test.ts'], fileParallelism: false },
});
