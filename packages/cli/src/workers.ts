import cluster, { type Worker } from 'node:cluster';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRedisBus } from '@socketlab/bus';
import { DEFAULTS, listen } from '@socketlab/contract';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { metricsLine, readyLine, type ServerApp } from './app.js';
import type { ParsedArgs } from './args.js';
import { onParentGone } from './parent.js';

/** The IPC between the primary and its workers. */
export const WORKER_MESSAGE = {
  /** worker -> primary: listening (the URL it serves). */
  ready: 'socketlab:ready',
  /** worker -> primary: could not start; the one line to print. */
  failed: 'socketlab:failed',
  /** primary -> worker: close gracefully and exit. */
  shutdown: 'socketlab:shutdown',
  /** worker -> primary: a scrape of /metrics reached this worker; send every worker's metrics. */
  metrics: 'socketlab:metrics',
  /** primary -> worker: the answer to `metrics` with the same id. */
  metricsResult: 'socketlab:metrics-result',
} as const;

/** The port clients use, handed to each worker so its logs name it, not the worker's own. */
export const PUBLIC_PORT_ENV = 'SOCKETLAB_INTERNAL_PUBLIC_PORT';

export type WorkerMessage =
  | { type: typeof WORKER_MESSAGE.ready; url: string; metricsUrl?: string }
  | { type: typeof WORKER_MESSAGE.failed; message: string }
  | { type: typeof WORKER_MESSAGE.shutdown }
  | { type: typeof WORKER_MESSAGE.metrics; id: number }
  | { type: typeof WORKER_MESSAGE.metricsResult; id: number; text?: string; error?: string };

/** How long a scrape waits for the primary (which waits for every worker, prom-client's 5 s). */
const CLUSTER_METRICS_TIMEOUT_MS = 10_000;

/**
 * In a worker, first thing: answer the primary's requests for this worker's metrics (prom-client
 * installs its listener when an AggregatorRegistry is made). Before the app's registry exists it
 * answers with none, so a scrape while a replacement worker starts still gets the others'.
 */
export function answerPrimaryMetricsRequests(): void {
  new AggregatorRegistry();
}

/**
 * In a worker: /metrics answers for the whole cluster. A scrape reaches whichever worker the
 * connection went to (the public port and --metrics-port are shared by every worker), so each
 * worker asks the primary, which gathers every worker's registry through prom-client's
 * AggregatorRegistry; the series keep their `worker` label.
 */
export function workerClusterMetrics(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  let nextId = 0;
  const pending = new Map<
    number,
    (message: Extract<WorkerMessage, { type: typeof WORKER_MESSAGE.metricsResult }>) => void
  >();
  process.on('message', (message: WorkerMessage) => {
    if (message?.type === WORKER_MESSAGE.metricsResult) pending.get(message.id)?.(message);
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('no cluster metrics from the primary in time'));
      }, CLUSTER_METRICS_TIMEOUT_MS);
      pending.set(id, (message) => {
        clearTimeout(timer);
        pending.delete(id);
        if (message.text === undefined) reject(new Error(message.error ?? 'no cluster metrics'));
        else resolve(message.text);
      });
      process.send?.({ type: WORKER_MESSAGE.metrics, id } satisfies WorkerMessage);
    });
}

/**
 * --workers N: this process forks N workers that each run the app (same flags) and share
 * the room through the Redis bus. WebSocket apps let node:cluster hand out connections
 * (round-robin on the shared port). Apps with sticky sessions (socket.io: long-polling is
 * many requests per session) get the port opened here instead, and @socket.io/sticky
 * sends every request of a session to the worker that owns it.
 *
 * The primary prints the one ready line once every worker listens, replaces a worker that
 * dies while serving, forwards SIGINT/SIGTERM as a shutdown request, and exits 0 once every
 * worker closed gracefully (1 if one did not).
 */
export async function runPrimary(app: ServerApp, parsed: ParsedArgs, logger: Logger): Promise<void> {
  const count = parsed.workers;
  // Checked once here, so an unreachable Redis is one clear line, not one per worker.
  const probe = createRedisBus(parsed.redisUrl!, { prefix: parsed.redisPrefix, connectionName: `${app.name}-primary` });
  try {
    await probe.ready;
  } catch (error) {
    exitWith(app, (error as Error).message);
  } finally {
    await probe.close();
  }

  let balancer: HttpServer | undefined;
  if (app.stickySessions) {
    balancer = createHttpServer();
    const { setupMaster } = await import('@socket.io/sticky');
    setupMaster(balancer, { loadBalancingMethod: 'least-connection' });
    // The primary only reads a request's first bytes to route it: a connection that sends
    // nothing is not kept forever, and a reset before the hand-off is not an error here.
    const idleLimit = parsed.options.handshakeTimeout ?? DEFAULTS.handshakeTimeout;
    balancer.on('connection', (socket) => {
      socket.setTimeout(idleLimit, () => socket.destroy());
      socket.on('error', () => socket.destroy());
    });
    try {
      await listen(balancer, parsed.options.port, parsed.options.host);
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      exitWith(
        app,
        `cannot listen on ${parsed.options.host}:${parsed.options.port}: ${code === 'EADDRINUSE' ? 'address already in use' : message}`,
      );
    }
  }

  let ready = false;
  let stopping = false;
  const readyUrls = new Map<number, string>();

  /** Replacements that failed in a row: each waits twice as long (Redis may be down). */
  let failedReplacements = 0;
  /** Every worker's metrics for a scrape that reached one of them (workerClusterMetrics). */
  const aggregator = new AggregatorRegistry();

  // Known before any worker starts: the balancer's port; without one the workers share the
  // public port (node:cluster), which is their own.
  const env = balancer ? { [PUBLIC_PORT_ENV]: String((balancer.address() as AddressInfo).port) } : {};
  const fork = (): Worker => {
    const worker = cluster.fork(env);
    worker.on('message', (message: WorkerMessage) => {
      if (message?.type === WORKER_MESSAGE.metrics) {
        const answer = (result: WorkerMessage): void => {
          if (worker.isConnected()) worker.send(result);
        };
        aggregator.clusterMetrics().then(
          (text) => answer({ type: WORKER_MESSAGE.metricsResult, id: message.id, text }),
          (error: Error) => answer({ type: WORKER_MESSAGE.metricsResult, id: message.id, error: error.message }),
        );
        return;
      }
      if (message?.type === WORKER_MESSAGE.failed && !stopping) {
        if (ready) {
          // A replacement that cannot start: the others serve on; its exit schedules another.
          failedReplacements++;
          logger.error({ worker: worker.id, reason: message.message }, 'replacement worker could not start');
          return;
        }
        stopping = true;
        process.stderr.write(`${app.name}: ${message.message}\n`);
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
        process.exit(1);
      }
      if (message?.type !== WORKER_MESSAGE.ready) return;
      readyUrls.set(worker.id, message.url);
      if (ready) {
        failedReplacements = 0;
        logger.warn({ worker: worker.id }, 'replacement worker listening');
        return;
      }
      if (readyUrls.size < count) return;
      ready = true;
      if (message.metricsUrl) process.stdout.write(metricsLine(app, message.metricsUrl));
      process.stdout.write(readyLine(app, publicUrl(message.url, balancer)));
      logger.info({ workers: count }, 'all workers listening');
    });
    worker.on('exit', (code, signal) => {
      readyUrls.delete(worker.id);
      if (stopping) return;
      if (!ready) {
        stopping = true;
        process.stderr.write(`${app.name}: worker ${worker.id} exited (${signal ?? code}) before it was ready\n`);
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
        process.exit(1);
      }
      // Its clients are gone (the others got no leave for them: see the bus README); serve on.
      const delayMs = failedReplacements === 0 ? 0 : Math.min(30_000, 500 * 2 ** (failedReplacements - 1));
      logger.error({ worker: worker.id, code, signal, delayMs }, 'worker exited unexpectedly: starting a replacement');
      setTimeout(() => {
        if (!stopping) fork();
      }, delayMs);
    });
    return worker;
  };
  // Structured clone, not JSON: @socket.io/sticky sends each request's first bytes as a Buffer.
  cluster.setupPrimary({ serialization: 'advanced' });
  for (let i = 0; i < count; i++) fork();

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: killing workers');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down workers');
    // The balancer stays open: a polling session gets its close on its next request, and
    // the workers refuse new sessions themselves while they shut down.
    const alive = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
    const exitCodes = alive.map(
      (worker) => new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code))),
    );
    for (const worker of alive) {
      // A worker still starting has no handler for the request yet; SIGTERM ends it either way.
      if (readyUrls.has(worker.id) && worker.isConnected()) {
        worker.send({ type: WORKER_MESSAGE.shutdown } satisfies WorkerMessage);
      } else {
        worker.process.kill('SIGTERM');
      }
    }
    // Workers bound their own shutdown by --shutdown-timeout; this only guards against a hang.
    const limit = (parsed.options.shutdownTimeout ?? DEFAULTS.shutdownTimeout) + 10_000;
    const guard = setTimeout(() => {
      logger.error({ limitMs: limit }, 'workers did not exit in time: killing them');
      for (const worker of alive) worker.process.kill('SIGKILL');
    }, limit);
    guard.unref();
    Promise.all(exitCodes).then((codes) => {
      clearTimeout(guard);
      process.exit(codes.every((code) => code === 0) ? 0 : 1);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Each worker serves TLS itself and reloads its own pair.
  if (parsed.tls) {
    process.on('SIGHUP', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
    });
  }
  // Run by pnpm or the root `pnpm start` (parent.ts): gone with it, gracefully, never forced.
  onParentGone(() => {
    if (!stopping) stop('SIGTERM');
  });
}

/** The URL clients use: the workers' own, or the sticky balancer's port when there is one. */
function publicUrl(workerUrl: string, balancer: HttpServer | undefined): string {
  if (!balancer) return workerUrl;
  const url = new URL(workerUrl);
  url.port = String((balancer.address() as AddressInfo).port);
  return url.toString();
}

function exitWith(app: ServerApp, message: string): never {
  process.stderr.write(`${app.name}: ${message}\n`);
  process.exit(1);
}
