import { type Bus, type BusEvent, type Logger, silentLogger } from '@socketlab/contract';
import { Redis } from 'ioredis';
import { decodeBusEvent, encodeBusEvent } from './codec.js';
import { Subscribers } from './subscribers.js';

export interface RedisBusOptions {
  logger?: Logger;
  /**
   * Namespace of the channel: the bus publishes on `<prefix>:room`. Servers share a room
   * exactly when they share Redis and prefix; a different prefix is a separate room
   * (and keeps test runs or deployments on one Redis apart). Default `socketlab`.
   */
  prefix?: string;
  /** How long the first connection may take before `ready` rejects; default 5 s. */
  connectTimeout?: number;
  /** Reconnect backoff after the first connection: doubling from `min` up to `max` ms. */
  backoff?: { min?: number; max?: number };
  /** Shown in `CLIENT LIST` as `<name>-pub` and `<name>-sub`; default `socketlab-bus`. */
  connectionName?: string;
}

export interface RedisBus extends Bus {
  readonly channel: string;
  /** Resolves once both connections are up and subscribed; rejects if the first connection fails. */
  readonly ready: Promise<void>;
  /** Both connections are up right now (false during an outage). */
  readonly connected: boolean;
  /** Events not sent because Redis was unreachable when they were published (presence heartbeats not counted). */
  readonly dropped: number;
  /** Flushes what was published, then closes both connections. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_BUS_PREFIX = 'socketlab';
const CONNECT_TIMEOUT = 5_000;
const BACKOFF_MIN = 100;
const BACKOFF_MAX = 2_000;

/**
 * A bus on Redis pub/sub: one connection publishes, one subscribes, events are JSON with
 * bytes tagged (see codec.ts). Redis delivers the messages of one connection in order,
 * so each process sees another's events in the order that process published them.
 *
 * Failure: if the first connection fails, `ready` rejects and nothing retries. After that,
 * an outage is logged once, events published meanwhile are dropped (counted, never queued:
 * memory stays bounded and nobody receives stale broadcasts later), both connections
 * reconnect with capped exponential backoff, the subscriber re-subscribes, and delivery
 * resumes; the recovery is logged too. Nothing here throws into the caller.
 */
export function createRedisBus(url: string, options: RedisBusOptions = {}): RedisBus {
  checkRedisUrl(url);
  const logger = options.logger ?? silentLogger;
  const channel = `${options.prefix ?? DEFAULT_BUS_PREFIX}:room`;
  const name = options.connectionName ?? 'socketlab-bus';
  const backoffMin = options.backoff?.min ?? BACKOFF_MIN;
  const backoffMax = options.backoff?.max ?? BACKOFF_MAX;
  const connectTimeout = options.connectTimeout ?? CONNECT_TIMEOUT;
  const target = describeUrl(url);
  const subscribers = new Subscribers(logger);
  let started = false;
  let closing = false;
  let dropped = 0;
  let outageSince: number | undefined;
  let droppedAtOutage = 0;
  /** ioredis rejects connect() with a bare "Connection is closed."; the socket error says why. */
  let lastError: Error | undefined;

  const connection = (role: 'pub' | 'sub'): Redis => {
    const client = new Redis(url, {
      lazyConnect: true,
      connectionName: `${name}-${role}`,
      connectTimeout,
      // Publishing while Redis is away fails at once instead of piling up in memory.
      enableOfflineQueue: role === 'sub',
      autoResubscribe: true,
      maxRetriesPerRequest: null,
      // Before the first success, give up: a bad URL at start is the caller's error to report.
      retryStrategy: (attempt) => {
        if (!started || closing) return null;
        const delay = Math.min(backoffMax, backoffMin * 2 ** Math.min(attempt - 1, 16));
        return Math.round(delay * (0.8 + Math.random() * 0.4));
      },
    });
    // Without a listener an 'error' event would crash the process; the state changes say enough.
    client.on('error', (error: Error) => {
      lastError = error;
      logger.debug({ role, err: error.message }, 'redis connection error');
    });
    client.on('close', () => noteDown(role));
    client.on('ready', noteUp);
    return client;
  };

  const noteDown = (role: string): void => {
    if (!started || closing || outageSince !== undefined) return;
    outageSince = Date.now();
    droppedAtOutage = dropped;
    logger.warn(
      { redis: target, role },
      'redis connection lost: serving local clients only, reconnecting with backoff',
    );
  };
  const noteUp = (): void => {
    if (outageSince === undefined || !bothReady()) return;
    logger.warn(
      { redis: target, downMs: Date.now() - outageSince, droppedEvents: dropped - droppedAtOutage },
      'redis connection restored: cross-process delivery resumed',
    );
    outageSince = undefined;
  };

  const publisher = connection('pub');
  const subscriber = connection('sub');
  const bothReady = (): boolean => publisher.status === 'ready' && subscriber.status === 'ready';

  subscriber.on('message', (from: string, text: string) => {
    if (from !== channel) return;
    let event: BusEvent | undefined;
    try {
      event = decodeBusEvent(text);
    } catch {
      event = undefined;
    }
    if (!event) {
      logger.warn({ channel, bytes: text.length }, 'ignored a malformed bus message');
      return;
    }
    subscribers.deliver(event);
  });

  const ready = (async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeout} ms`)), connectTimeout);
    });
    try {
      await Promise.race([
        Promise.all([publisher.connect(), subscriber.connect().then(() => subscriber.subscribe(channel))]),
        timeout,
      ]);
      started = true;
      logger.info({ redis: target, channel }, 'bus connected');
    } catch (error) {
      publisher.disconnect();
      subscriber.disconnect();
      const reason = lastError ?? (error as Error);
      throw new Error(`cannot connect to Redis at ${target}: ${reason.message || String(reason)}`);
    } finally {
      clearTimeout(timer);
    }
  })();
  // The caller awaits `ready`; this keeps an unobserved rejection from crashing anyone.
  ready.catch(() => {});

  let closed: Promise<void> | undefined;
  return {
    channel,
    ready,
    get connected() {
      return bothReady();
    },
    get dropped() {
      return dropped;
    },
    publish(event) {
      if (closing) return;
      // A heartbeat missed in an outage is no lost news: the next one carries the same roster.
      const counts = event.kind !== 'presence';
      if (publisher.status !== 'ready') {
        if (counts) dropped++;
        return;
      }
      publisher.publish(channel, encodeBusEvent(event)).catch((error: Error) => {
        if (counts) dropped++;
        logger.debug({ err: error.message, kind: event.kind }, 'bus event dropped');
      });
    },
    subscribe: (handler) => subscribers.add(handler),
    close() {
      closed ??= (async () => {
        closing = true;
        subscribers.clear();
        // QUIT is answered after every publish sent before it: the last leaves get out.
        if (publisher.status === 'ready') {
          await Promise.race([publisher.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1_000).unref())]);
        }
        publisher.disconnect();
        subscriber.disconnect();
      })();
      return closed;
    },
  };
}

/** Throws a TypeError that says what a Redis URL looks like. */
export function checkRedisUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new TypeError(`"${url}" is not a URL (example: redis://127.0.0.1:6379)`);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new TypeError(`"${url}" is not a redis:// or rediss:// URL`);
  }
}

/** The URL without its password, for logs and errors. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
