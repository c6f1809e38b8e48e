import cluster from 'node:cluster';
import type { Server as HttpServer } from 'node:http';
import { format } from 'node:util';
import { createRedisBus, type RedisBus } from '@socketlab/bus';
import { type Adapter, DEFAULTS, listen, type RealtimeServer, serverUrl, type TlsOptions } from '@socketlab/contract';
import { type Logger, pino } from 'pino';
import { metricsLine, readyLine, type ServerApp, type StickyTarget, serverApp, stickyTarget } from './app.js';
import { type LogLevel, type ParsedArgs, parseServerArgs, usage } from './args.js';
import { createAppMetrics, createMetricsServer, publicPortEndpoints } from './metrics.js';
import { onParentGone } from './parent.js';
import { loadTls } from './tls.js';
import {
  answerPrimaryMetricsRequests,
  PUBLIC_PORT_ENV,
  runPrimary,
  WORKER_MESSAGE,
  type WorkerMessage,
  workerClusterMetrics,
} from './workers.js';

/**
 * Runs the server app of `adapter`, named and ported by its transport catalog row: parse
 * flags (a bad one prints usage and exits 2), connect the bus if --redis-url (unreachable:
 * one line, exit 1), start the adapter's server, print one
 * ready line with its URL, and on SIGINT/SIGTERM close gracefully (1001 to every client),
 * close the bus and exit 0. With --workers N the process becomes a cluster primary and
 * each of N workers runs this same function (see workers.ts). Logs are pino JSON on
 * stderr, warnings and errors only unless --verbose.
 */
export async function runServerApp(adapter: Adapter, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const app = serverApp(adapter);
  let parsed: ParsedArgs;
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
  const rootLogger = createLogger(app.name, parsed.logLevel);
  // Read (and checked) before anything starts: an unreadable or mismatched pair is one line, exit 1.
  let tls: TlsOptions | undefined;
  if (parsed.tls) {
    if (parsed.workers > 1 && app.stickySessions) {
      return await fail(
        app,
        '--tls-cert with --workers is not supported here: the sticky-session balancer routes plain HTTP ' +
          '(run one process, or end TLS in a proxy in front of the workers)',
      );
    }
    try {
      tls = await loadTls(parsed.tls);
    } catch (error) {
      return await fail(app, (error as Error).message);
    }
  }
  if (parsed.workers > 1 && cluster.isPrimary) {
    await runPrimary(app, parsed, rootLogger);
    return;
  }
  const worker = cluster.isWorker ? cluster.worker : undefined;
  const logger = worker ? rootLogger.child({ worker: worker.id }) : rootLogger;
  if (worker) answerPrimaryMetricsRequests();
  const sticky = worker !== undefined && app.stickySessions;

  const bus = parsed.redisUrl === undefined ? undefined : await connectBus(app, parsed, logger);
  let server: RealtimeServer | undefined;
  let stopping = false;
  const metrics = createAppMetrics(
    { adapter: app.adapter.name, connections: () => server?.connectionCount ?? 0, bus, stopping: () => stopping },
    worker ? { worker: String(worker.id) } : {},
    worker ? workerClusterMetrics : undefined,
  );
  // With --metrics-port they move to their own listener; otherwise loopback peers get them here.
  const httpEndpoints = parsed.metrics.port === undefined ? publicPortEndpoints(metrics) : undefined;
  try {
    // A sticky worker gets its connections from the primary, which owns the public port.
    const port = sticky ? 0 : parsed.options.port;
    server = await app.adapter.createServer({
      ...parsed.options,
      port,
      bus,
      logger,
      observer: metrics.observer,
      ...(httpEndpoints ? { httpEndpoints } : {}),
      ...(tls ? { tls } : {}),
    });
  } catch (error) {
    const { code, message, syscall } = error as NodeJS.ErrnoException;
    const where = `${parsed.options.host}:${parsed.options.port}`;
    logger.debug({ err: error, code }, 'could not start');
    await bus?.close();
    // Only an error of listen() (bind() in a cluster worker) is about the address; anything
    // else (a library's start-up check) says what it is itself.
    if (syscall !== 'listen' && syscall !== 'bind') return await fail(app, `cannot start: ${message}`);
    return await fail(app, `cannot listen on ${where}: ${code === 'EADDRINUSE' ? 'address already in use' : message}`);
  }
  const metricsServer = parsed.metrics.port === undefined ? undefined : createMetricsServer(metrics);
  let metricsUrl: string | undefined;
  if (metricsServer) {
    const { host } = parsed.metrics;
    const port = parsed.metrics.port ?? 0;
    try {
      metricsUrl = serverUrl('http', host, await listen(metricsServer, port, host));
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      await server.close();
      await bus?.close();
      return await fail(
        app,
        `cannot listen on ${host}:${port} for metrics: ${code === 'EADDRINUSE' ? 'address already in use' : message}`,
      );
    }
  }
  // A worker's own port is internal (sticky sessions) or shared: its logs name the public one.
  const publicUrl = new URL(server.url);
  const publicPort = worker ? process.env[PUBLIC_PORT_ENV] : undefined;
  if (publicPort) publicUrl.port = publicPort;
  logger.info({ url: publicUrl.toString(), ...(metricsUrl ? { metrics: metricsUrl } : {}) }, 'serving');
  if (worker) {
    if (sticky) await setupStickyWorker(stickyTarget(app, server));
    tellPrimary({ type: WORKER_MESSAGE.ready, url: server.url, ...(metricsUrl ? { metricsUrl } : {}) });
  } else {
    // Before the ready line: whoever reads it may send SIGUSR2 at once.
    installMemoryProbe();
    if (metricsUrl) process.stdout.write(metricsLine(app, metricsUrl));
    process.stdout.write(readyLine(app, server.url));
  }

  const running = server;
  const stop = (signal: NodeJS.Signals | 'primary' | 'parent'): void => {
    if (stopping) {
      // A worker hears Ctrl-C from the terminal and from its primary: only a real repeat forces.
      if (signal === 'primary' || signal === 'parent' || worker) return;
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, connections: running.connectionCount }, 'shutting down');
    running
      .close()
      // The leaves of the clients just closed go out before the bus closes.
      .then(() => bus?.close())
      // Health answers 503 until here: a load balancer sees the shutdown while it lasts.
      .then(() => (metricsServer ? closeMetricsServer(metricsServer) : undefined))
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Run by pnpm (or by the root `pnpm start`): when that is gone, so is this server, gracefully.
  // A worker goes with its primary through the cluster's own channel.
  if (!worker) onParentGone(() => stop('parent'));
  if (parsed.tls) {
    const files = parsed.tls;
    // New handshakes get the new pair; open connections keep theirs. A bad pair keeps the old one.
    process.on('SIGHUP', () => {
      loadTls(files)
        .then((next) => running.reloadTls(next))
        .catch((error: unknown) =>
          logger.error({ err: (error as Error).message }, 'TLS reload failed: keeping the old certificate'),
        );
    });
  }
  if (worker) {
    process.on('message', (message: WorkerMessage) => {
      if (message?.type === WORKER_MESSAGE.shutdown) stop('primary');
    });
  }
}

/**
 * The app's pino logger on stderr, with ISO timestamps. Libraries that write to the console
 * themselves (ioredis warns with console.warn) are routed through it, so stderr stays one
 * JSON object a line and stdout keeps only the ready line.
 */
export function createLogger(name: string, level: LogLevel): Logger {
  const logger = pino({ name, level, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
  const route =
    (write: (obj: object, msg: string) => void) =>
    (...args: unknown[]): void =>
      write({ source: 'console' }, format(...args));
  console.error = route((obj, msg) => logger.error(obj, msg));
  console.warn = route((obj, msg) => logger.warn(obj, msg));
  console.info = route((obj, msg) => logger.info(obj, msg));
  console.log = route((obj, msg) => logger.info(obj, msg));
  console.debug = route((obj, msg) => logger.debug(obj, msg));
  return logger;
}

/** Connects the Redis bus before the server listens; exits 1 with one clear line if it cannot. */
async function connectBus(app: ServerApp, parsed: ParsedArgs, logger: Logger): Promise<RedisBus> {
  const bus = createRedisBus(parsed.redisUrl!, {
    logger,
    prefix: parsed.redisPrefix,
    connectionName: `${app.name}-${process.pid}`,
    // Back within a quarter of the presence timeout, so presence converges within it (bus README).
    backoff: { max: Math.min(2_000, (parsed.options.presenceTimeout ?? DEFAULTS.presenceTimeout) / 4) },
  });
  try {
    await bus.ready;
  } catch (error) {
    return await fail(app, (error as Error).message);
  }
  return bus;
}

/** One line on stderr and exit 1; a worker hands the line to its primary, which prints it once. */
async function fail(app: ServerApp, message: string): Promise<never> {
  if (cluster.isWorker) {
    await new Promise<void>((resolve) => tellPrimary({ type: WORKER_MESSAGE.failed, message }, resolve));
  } else {
    process.stderr.write(`${app.name}: ${message}\n`);
  }
  process.exit(1);
}

function closeMetricsServer(server: HttpServer): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}

function tellPrimary(message: WorkerMessage, then?: () => void): void {
  process.send?.(message, undefined, {}, () => then?.());
}

async function setupStickyWorker(io: StickyTarget): Promise<void> {
  const { setupWorker } = await import('@socket.io/sticky');
  setupWorker(io as unknown as Parameters<typeof setupWorker>[0]);
}

/** The line installMemoryProbe prints: resident set and live heap, in bytes. */
export const MEMORY_PROBE_PATTERN = /^gc rss=(\d+) heapUsed=(\d+) collected=(true|false)$/;

/**
 * The benchmark's memory probe (apps/bench): on SIGUSR2, run a full garbage collection
 * when node was started with --expose-gc (e.g. NODE_OPTIONS=--expose-gc), then print one
 * `gc rss=<bytes> heapUsed=<bytes> collected=<bool>` line on stdout. Without the handler
 * SIGUSR2 would kill the process.
 */
export function installMemoryProbe(): void {
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    process.stdout.write(`gc rss=${rss} heapUsed=${heapUsed} collected=${gc !== undefined}\n`);
  });
}
