import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  // Workspace packages are used from their TypeScript sources, as everywhere else in the repo.
  resolve: { conditions: ['source', ...defaultClientConditions] },
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  build: {
    target: 'es2022',
    sourcemap: true,
    rolldownOptions: {
      onwarn(warning, warn) {
        // The page takes only browser-safe parts of @socketlab/contract (messages, Inbox);
        // its server-side Room imports node:crypto and is tree-shaken out of the bundle.
        if (warning.message.includes('externalized for browser compatibility') && warning.message.includes('contract/src/room.ts')) return;
        warn(warning);
      },
    },
  },
});
