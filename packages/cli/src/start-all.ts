import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseServerArgs, withoutLeadingSeparator } from './args.js';
import { onParentGone } from './parent.js';
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
let stopping: Promise<never> | undefined;
let stoppingSince = 0;

/**
 * Stops every child once, with SIGTERM, and exits when all are gone: 0 if each shut down
 * cleanly. The children are in their own process group (`detached`), so a terminal's Ctrl-C
 * reaches them only through here: one signal each, one graceful shutdown each.
 */
const stopAll = (reason: string, exitCode = 0): Promise<never> => {
  if (stopping) {
    // pnpm forwards the Ctrl-C the whole group already got: within a second it is the same one.
    // A later one is a user's second Ctrl-C: do not wait for the graceful shutdowns.
    if (reason !== 'parent' && Date.now() - stoppingSince > 1000) {
      process.stderr.write('socketlab: second signal: killing every app without waiting\n');
      for (const server of started) server.child.kill('SIGKILL');
      process.exit(1);
    }
    return stopping;
  }
  stoppingSince = Date.now();
  stopping = Promise.all(started.map(async (server) => [server.name, await server.stop('SIGTERM')] as const)).then(
    (codes) => {
      // 143 (128 + SIGTERM) is Vite's own SIGTERM listener exiting after its close: clean too.
      const clean = codes.every(([, code]) => code === 0 || code === 143);
      process.stdout.write(`socketlab stopped (${reason}); exit codes: ${codes.map((c) => c.join(' ')).join(', ')}\n`);
      process.exit(clean ? exitCode : 1);
    },
  );
  return stopping;
};
process.on('SIGINT', () => void stopAll('SIGINT'));
process.on('SIGTERM', () => void stopAll('SIGTERM'));
// pnpm itself gone (SIGTERM to pnpm kills the shell between it and us; SIGKILL kills pnpm).
onParentGone(() => void stopAll('parent'));

/** Each app's logs stream live on stderr, one prefixed line at a time; nothing is held back. */
const streamAs =
  (name: string) =>
  (line: string): void => {
    process.stderr.write(`[${name}] ${line}\n`);
  };
const startApp = (dir: string, args: readonly string[], entry?: string): Promise<ServerProcess> =>
  startServerProcess(dir, args, {
    detached: true,
    onOutput: streamAs(basename(dir)),
    ...(entry === undefined ? {} : { entry }),
  });

try {
  for (const server of await Promise.allSettled(apps.map((dir) => startApp(dir, argv)))) {
    if (server.status === 'fulfilled') started.push(server.value);
    else process.stderr.write(`${(server.reason as Error).message}\n`);
  }
  if (started.length < apps.length) throw new Error('not every server started');
  if (hasPage) {
    // The page learns where each server really listens (flags may have moved them).
    const servers = started.flatMap((server) => ['--server', `${server.name}=${server.url}`]);
    const pagePort = process.env.SOCKETLAB_PAGE_PORT ?? (freePorts ? '0' : undefined);
    const port = pagePort ? ['--port', pagePort] : [];
    started.push(await startApp(pageDir, [...port, ...servers], pageEntry));
  }
} catch (error) {
  process.stderr.write(`socketlab: ${(error as Error).message}\n`);
  await stopAll('a start failed', 1);
}

const page = hasPage ? started.at(-1) : undefined;
if (page) process.stdout.write(`socketlab playground: ${page.url}\n`);
process.stdout.write('socketlab servers (Ctrl-C stops them all):\n');
for (const server of started) {
  if (server !== page) process.stdout.write(`  ${server.name.padEnd(18)} ${server.url}\n`);
}

for (const server of started) {
  server.exited.then((code) => {
    if (stopping) return;
    process.stderr.write(`socketlab: ${server.name} exited unexpectedly (${code}); stopping the others\n`);
    void stopAll(`${server.name} exited`, 1);
  });
}
