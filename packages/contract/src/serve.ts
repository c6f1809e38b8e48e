import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContextOptions, Server as TlsServer } from 'node:tls';
import type { RealtimeServer } from './adapter.js';
import { DEFAULTS, type ResolvedServerOptions, type TlsOptions } from './options.js';
import type { Room } from './room.js';

/** Listens and resolves with the bound port (port 0 picks a free one); rejects on EADDRINUSE etc. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

export type UrlScheme = 'ws' | 'wss' | 'http' | 'https';

/** `ws://127.0.0.1:6080/`; IPv6 literals get their brackets. */
export function serverUrl(scheme: UrlScheme, host: string, port: number, path = '/'): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
}

/** The `node:tls` options of a certificate pair. */
export function secureContextOptions(tls: TlsOptions): SecureContextOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca === undefined ? {} : { ca: tls.ca as SecureContextOptions['ca'] }),
  };
}

/** Whether the server speaks TLS (an `https.Server` is a `tls.Server`). */
export const isTlsServer = (server: Server): server is TlsServer => server instanceof TlsServer;

/**
 * The http server an adapter on node:http serves on: the app's own with `server` (attach),
 * else its own, https when `tls` is given. A TLS handshake gets the handshake timeout too.
 */
export function httpServerFor(options: ResolvedServerOptions): HttpServer {
  if (options.server) return options.server;
  const common = { maxHeaderSize: DEFAULTS.maxHeadSize };
  if (!options.tls) return createHttpServer(common);
  return createHttpsServer({
    ...common,
    ...secureContextOptions(options.tls),
    handshakeTimeout: options.handshakeTimeout,
  });
}

/** The node:net server of an adapter that reads the bytes itself; node:tls's when `tls` is given. */
export function netServerFor(options: ResolvedServerOptions, onConnection: (socket: Socket) => void): Server {
  if (!options.tls) return createNetServer({ noDelay: true }, onConnection);
  return createTlsServer(
    { ...secureContextOptions(options.tls), handshakeTimeout: options.handshakeTimeout, noDelay: true },
    onConnection,
  );
}

/**
 * The path an adapter serves: given, or with `server` (attached) `attachedDefault`;
 * undefined (standalone WebSocket adapters) means every path.
 */
export function servedPath(options: ResolvedServerOptions, attachedDefault: string): string | undefined {
  return options.path ?? (options.server ? attachedDefault : undefined);
}

/** Whether a request target is on `path` (query ignored); every target is when `path` is undefined. */
export function isOnPath(target: string | undefined, path: string | undefined): boolean {
  if (path === undefined) return true;
  const raw = target ?? '/';
  const end = raw.indexOf('?');
  return (end === -1 ? raw : raw.slice(0, end)) === path;
}

export interface ServeParts<C> {
  /** The node:net, node:tls or node:http(s) server that owns the port (not listening yet), or the app's (attached). */
  server: Server;
  /** `ws` for the WebSocket adapters, `http` for socket.io; TLS makes them `wss` / `https`. */
  scheme: 'ws' | 'http';
  options: ResolvedServerOptions;
  room: Room<C>;
  /** The adapter's own shutdown (CONTRACT.md section 4), run once; the heartbeat has stopped by then. */
  shutdown: () => Promise<void>;
}

/**
 * The server lifecycle every adapter shares: listen (or, attached to the app's server, wait
 * until it listens), keep an error logger on an own server for as long as it lives (a later
 * server-level error, such as `accept EMFILE`, is logged and the server goes on serving;
 * without a listener it would end the process), start the room's heartbeat, and return the
 * `RealtimeServer` handle whose `close()` stops the heartbeat, runs the adapter's shutdown
 * once however often it is called, and leaves the bus.
 */
export async function serve<C>(parts: ServeParts<C>): Promise<RealtimeServer> {
  const { server, room, options } = parts;
  const { logger } = options;
  const attached = options.server !== undefined;
  const { port, host } = attached
    ? await boundAddress(server)
    : { port: await listen(server, options.port, options.host), host: options.host };
  if (!attached) {
    server.on('error', (error: NodeJS.ErrnoException) =>
      logger.error({ err: error.message, code: error.code }, 'server error'),
    );
    // A failed TLS handshake is that one peer's; the socket is destroyed.
    server.on('tlsClientError', (error: Error, socket: Socket) => {
      logger.debug({ err: error.message }, 'TLS handshake failed');
      socket.destroy();
    });
  }
  room.startHeartbeat();
  const secure = isTlsServer(server);
  const scheme: UrlScheme = parts.scheme === 'ws' ? (secure ? 'wss' : 'ws') : secure ? 'https' : 'http';
  const url = serverUrl(scheme, host, port, options.path ?? '/');
  // The app logs the URL its clients use (a cluster worker's own port is internal).
  logger.debug({ url }, 'listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    get connectionCount() {
      return room.size;
    },
    stats: () => ({ connections: room.size, peakBufferedBytes: room.peakBufferedBytes }),
    reloadTls: (tls) => {
      if (attached) throw new Error('reloadTls: attached to the app’s server, whose certificate is the app’s');
      if (!isTlsServer(server)) throw new Error('reloadTls: this server was started without tls');
      // Throws (and keeps the old pair) on an unreadable or mismatched pair.
      server.setSecureContext(secureContextOptions(tls));
      logger.info({}, 'TLS certificate reloaded');
    },
    close: () => {
      closing ??= (async () => {
        room.stopHeartbeat();
        await parts.shutdown();
        room.close();
        logger.info({}, 'closed');
      })();
      return closing;
    },
  };
}

/** The port and host of the app's server, once it listens (`app.listen()` returns before it does). */
async function boundAddress(server: Server): Promise<{ port: number; host: string }> {
  if (!server.listening) await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const unspecified: Record<string, string> = { '::': '::1', '0.0.0.0': '127.0.0.1' };
  return { port: address.port, host: unspecified[address.address] ?? address.address };
}
