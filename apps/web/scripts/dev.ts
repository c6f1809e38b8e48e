/**
 * `pnpm --filter web start` and the page of the root `pnpm start`: the Vite dev server for
 * the playground. Prints one ready line in the server apps' format, so the root start
 * script reads its URL the same way; `--port` and `--host` as for the server apps.
 * `--server ws-server=ws://127.0.0.1:6080/` (repeatable) tells the page where an app
 * really listens, so the printed page URL needs no query string.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { onParentGone } from '@socketlab/cli/process';
import { createServer } from 'vite';

const appDir = dirname(dirname(fileURLToPath(import.meta.url)));

const USAGE = 'usage: web [--port N] [--host H] [--server APP=URL]...\n';
let flags: { port: string; host: string; server: string[] };
let servers: Record<string, string>;
try {
  flags = parseArgs({
    // `pnpm --filter web start -- --port 0` hands the script the `--` too.
    args: process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--')),
    options: {
      port: { type: 'string', default: '5173' },
      host: { type: 'string', default: '127.0.0.1' },
      server: { type: 'string', multiple: true, default: [] },
    },
  }).values as typeof flags;
  servers = Object.fromEntries(
    flags.server.map((entry) => {
      const match = /^([\w-]+)=(\S+)$/.exec(entry);
      if (!match) throw new Error(`--server takes APP=URL, got ${entry}`);
      return [match[1], match[2]];
    }),
  );
} catch (error) {
  process.stderr.write(`web: ${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
const port = Number(flags.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`web: --port must be a port number, got ${flags.port}\n`);
  process.exit(2);
}

const server = await createServer({
  root: appDir,
  configFile: join(appDir, 'vite.config.ts'),
  logLevel: 'warn',
  server: { port, host: flags.host, strictPort: true },
  define: { __SOCKETLAB_SERVERS__: JSON.stringify(servers) },
});
try {
  await server.listen();
} catch (error) {
  const { code, message } = error as NodeJS.ErrnoException;
  process.stderr.write(
    `web: cannot listen on ${flags.host}:${port}: ${code === 'EADDRINUSE' ? 'address already in use' : message}\n`,
  );
  process.exit(1);
}
const url = server.resolvedUrls?.local[0] ?? `http://${flags.host}:${port}/`;
process.stdout.write(`web (vite) listening on ${url}\n`);

const stop = (): void => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
// Started by pnpm or the root `pnpm start`: gone with it, however it died.
onParentGone(stop);
