import type { Adapter, RealtimeServer } from '@socketlab/contract';
import { pino } from 'pino';
import { parseServerArgs, type ServerAppSpec, usage } from './args.js';

export interface ServerApp extends ServerAppSpec {
  adapter: Adapter;
}

/** The ready line every app prints on stdout; tools read the URL from it. */
export const READY_PATTERN = /^(\S+) \((\S+)\) listening on (\S+)$/;

/**
 * Runs one server app: parse flags (a bad one prints usage and exits 2), start the
 * adapter's server, print one ready line with its URL, and on SIGINT/SIGTERM close
 * gracefully (1001 to every client) and exit 0. Logs are pino JSON on stderr, warnings
 * and errors only unless --verbose.
 */
export async function runServerApp(app: ServerApp, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let parsed: ReturnType<typeof parseServerArgs>;
  try {
    parsed = parseServerArgs(app, argv);
  } catch (error) {
    process.stderr.write(`${app.name}: ${(error as Error).message}\n\n${usage(app)}`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(usage(app));
    return;
  }
  const logger = pino({ name: app.name, level: parsed.verbose ? 'debug' : 'warn' }, pino.destination(2));
  let server: RealtimeServer;
  try {
    server = await app.adapter.createServer({ ...parsed.options, logger });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const where = `${parsed.options.host}:${parsed.options.port}`;
    logger.debug({ err: error, code }, 'could not start');
    process.stderr.write(
      `${app.name}: cannot listen on ${where}: ${code === 'EADDRINUSE' ? 'address already in use' : message}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`${app.name} (${app.adapter.name}) listening on ${server.url}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, connections: server.connectionCount }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
