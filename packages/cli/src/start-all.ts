import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServerProcess, startServerProcess } from './process.js';

/**
 * The root `pnpm start`: every server app of the workspace (apps/*-server) on its
 * default port, then the playground page (apps/web, port 5173 or SOCKETLAB_PAGE_PORT)
 * whose URL is printed first; one line per URL, until Ctrl-C; then each shuts down gracefully.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const appsDir = join(root, 'apps');
const apps = readdirSync(appsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name.endsWith('-server'))
  .map((entry) => join(appsDir, entry.name))
  .sort();
const pageDir = join(appsDir, 'web');
const pageEntry = join('scripts', 'dev.ts');
const hasPage = existsSync(join(pageDir, pageEntry));

const started: ServerProcess[] = [];
const stopAll = async (): Promise<void> => {
  await Promise.all(started.map((server) => server.stop('SIGTERM')));
};

try {
  for (const server of await Promise.allSettled(apps.map((dir) => startServerProcess(dir, process.argv.slice(2))))) {
    if (server.status === 'fulfilled') started.push(server.value);
    else process.stderr.write(`${(server.reason as Error).message}\n`);
  }
  if (started.length < apps.length) throw new Error('not every server started');
  if (hasPage) {
    // The page learns where each server really listens (flags may have moved them).
    const servers = started.flatMap((server) => ['--server', `${server.name}=${server.url}`]);
    const port = process.env.SOCKETLAB_PAGE_PORT ? ['--port', process.env.SOCKETLAB_PAGE_PORT] : [];
    started.push(await startServerProcess(pageDir, [...port, ...servers], { entry: pageEntry }));
  }
} catch (error) {
  process.stderr.write(`socketlab: ${(error as Error).message}\n`);
  await stopAll();
  process.exit(1);
}

const page = hasPage ? started.at(-1) : undefined;
if (page) process.stdout.write(`socketlab playground: ${page.url}\n`);
process.stdout.write('socketlab servers (Ctrl-C stops them all):\n');
for (const server of started) {
  if (server !== page) process.stdout.write(`  ${server.name.padEnd(18)} ${server.url}\n`);
}

for (const server of started) {
  server.exited.then(async (code) => {
    if (stopping) return;
    process.stderr.write(`${server.name} exited unexpectedly (${code})\n${server.stderr()}`);
    stopping = true;
    await stopAll();
    process.exit(1);
  });
}
let stopping = false;
const onSignal = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await stopAll();
  process.exit(0);
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
