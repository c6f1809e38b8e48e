import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseServerArgs, withoutLeadingSeparator } from './args.js';
import { type ServerProcess, startServerProcess } from './process.js';

/**
 * The root `pnpm start`: every server app of the workspace (apps/*-server) on its
 * default port (or each on a free one with --port 0), then the playground page (apps/web,
 * port 5173 or SOCKETLAB_PAGE_PORT) whose URL is printed first; one line per URL, until
 * Ctrl-C; then each shuts down gracefully. The servers' flags go to every server.
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

const START_USAGE = `Usage: pnpm start [--] [flags]

Starts every server app (apps/*-server) on its default port, then the playground page
(apps/web, port 5173 or SOCKETLAB_PAGE_PORT), prints the page's URL and each server's,
and runs until Ctrl-C or SIGTERM, which stop them all, each gracefully.

Flags:
  -p, --port 0        every server and the page on a free port (the URLs are printed);
                      any other port is refused: one port cannot serve every app
                      (one app on port N: pnpm --filter ws-server start --port N)
  -v, --verbose       every app logs each connection event; all logs stream here live,
                      each line prefixed with its app
  -h, --help          show this text
  Any other flag of the server apps (pnpm --filter ws-server start --help) goes to every
  server app, e.g. pnpm start --redis-url redis://127.0.0.1:6379
`;

const argv = withoutLeadingSeparator(process.argv.slice(2));
let freePorts = false;
try {
  // The servers' own flags, checked once here so a mistake prints one line, not one per app.
  const parsed = parseServerArgs({ name: 'pnpm start', defaultPort: 0 }, argv);
  if (parsed.help) {
    process.stdout.write(START_USAGE);
    process.exit(0);
  }
  if (parsed.portGiven && parsed.options.port !== 0) {
    throw new Error(
      `--port ${parsed.options.port}: one port cannot serve every app; --port 0 puts each on a free ` +
        'port, and pnpm --filter <app> start --port N starts one app on port N',
    );
  }
  freePorts = parsed.portGiven;
} catch (error) {
  process.stderr.write(`pnpm start: ${(error as Error).message}\n\n${START_USAGE}`);
  process.exit(2);
}

const started: ServerProcess[] = [];
const stopAll = async (): Promise<void> => {
  await Promise.all(started.map((server) => server.stop('SIGTERM')));
};

try {
  for (const server of await Promise.allSettled(apps.map((dir) => startServerProcess(dir, argv)))) {
    if (server.status === 'fulfilled') started.push(server.value);
    else process.stderr.write(`${(server.reason as Error).message}\n`);
  }
  if (started.length < apps.length) throw new Error('not every server started');
  if (hasPage) {
    // The page learns where each server really listens (flags may have moved them).
    const servers = started.flatMap((server) => ['--server', `${server.name}=${server.url}`]);
    const pagePort = process.env.SOCKETLAB_PAGE_PORT ?? (freePorts ? '0' : undefined);
    const port = pagePort ? ['--port', pagePort] : [];
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
