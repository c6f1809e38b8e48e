import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { describe, it } from 'vitest';

/**
 * Helpers for tests that need a real Redis (this package's and the CLI's scale-out tests).
 * Nothing here is used by servers.
 */

/** The shared Redis of the test run: $REDIS_URL, or the one CI starts on 127.0.0.1:6379. */
export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Whether tests that need Redis may run. Resolves with `undefined` when Redis answers PING,
 * with a reason when it does not. Under CI=true a missing Redis is an error, never a skip:
 * callers turn the reason into a failing test (see `requireRedis`).
 */
export async function probeRedis(url = TEST_REDIS_URL, timeoutMs = 2_000): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    const pong = await client.ping();
    return pong === 'PONG' ? undefined : `Redis at ${url} answered PING with ${pong}`;
  } catch (error) {
    return `no Redis at ${url} (${(error as Error).message}); start one with: redis-server --port 6379 --save '' --appendonly no, or set REDIS_URL`;
  } finally {
    client.disconnect();
  }
}

export const isCI = (): boolean => process.env.CI === 'true' || process.env.CI === '1';

/** A channel prefix no other test run (or helper sharing this Redis) uses. */
export function uniquePrefix(label = 'test'): string {
  return `socketlab-${label}-${randomBytes(6).toString('hex')}`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface ThrowawayRedis {
  readonly url: string;
  readonly port: number;
  /** The running redis-server's pid (undefined while stopped), e.g. to sample its CPU time. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, no save) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/**
 * Its own redis-server on a free loopback port, for the tests that stop and restart Redis
 * (the shared one must not be disturbed). Resolves once it accepts connections.
 */
export async function startThrowawayRedis(timeoutMs = 10_000): Promise<ThrowawayRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const proc = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const spawned = new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (error) => reject(new Error(`cannot run ${REDIS_SERVER}: ${error.message}`)));
    });
    await spawned;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`redis-server on port ${port} exited: ${stderr}`);
      if ((await probeRedis(`redis://127.0.0.1:${port}`, 500)) === undefined) return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} not ready within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    stop,
    start,
  };
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

/** A Logger that keeps every entry, so a test can check what a bus reported. */
export function recordingLogger() {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj, msg });
    };
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    has: (fragment: string): boolean => entries.some((entry) => entry.msg?.includes(fragment) === true),
  };
}

/**
 * `describe` for tests that need the shared Redis. Without Redis: under CI=true one failing
 * test says why (CI starts Redis, so its absence is a broken run); elsewhere the block is
 * skipped with the reason in its title.
 */
export async function describeWithRedis(title: string, body: () => void, url = TEST_REDIS_URL): Promise<void> {
  const missing = await probeRedis(url);
  if (missing === undefined) {
    describe(title, body);
  } else if (isCI()) {
    describe(title, () => {
      it('needs a reachable Redis (CI=true: failing, not skipping)', () => {
        throw new Error(missing);
      });
    });
  } else {
    describe.skip(`${title} [skipped: ${missing}]`, body);
  }
}
