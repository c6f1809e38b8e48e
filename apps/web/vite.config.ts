import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  // Workspace packages are used from their TypeScript sources, as everywhere else in the repo.
  resolve: { conditions: ['source', ...defaultClientConditions] },
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  // Pre-bundled at start: a dependency found on first load would make the dev server reload the page.
  optimizeDeps: { include: ['socket.io-client'] },
  build: { target: 'es2022', sourcemap: true },
  // Server URLs by app name; the dev script fills it in for the root `pnpm start`.
  define: { __SOCKETLAB_SERVERS__: '{}' },
});
