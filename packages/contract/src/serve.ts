import type { Server } from 'node:net';
import type { RealtimeServer } from './adapter.js';
import type { ResolvedServerOptions } from './options.js';
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

/** `ws://127.0.0.1:6080/`; IPv6 literals get their brackets. */
export function serverUrl(scheme: 'ws' | 'http', host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/`;
}

export interface ServeParts<C> {
  /** The node:net or node:http server that owns the port; not listening yet. */
  server: Server;
  /** `ws` for the WebSocket adapters, `http` for socket.io. */
  scheme: 'ws' | 'http';
  options: ResolvedServerOptions;
  room: Room<C>;
  /** The adapter's own shutdown (CONTRACT.md section 4), run once; the heartbeat has stopped by then. */
  shutdown: () => Promise<void>;
}

/**
 * The server lifecycle every adapter shares: listen, keep an error logger on the server
 * for as long as it lives (a later server-level error, such as `accept EMFILE`, is logged
 * and the server goes on serving; without a listener it would end the process), start the
 * room's heartbeat, and return the `RealtimeServer` handle whose `close()` stops the
 * heartbeat, runs the adapter's shutdown once however often it is called, and leaves the bus.
 */
export async function serve<C>(parts: ServeParts<C>): Promise<RealtimeServer> {
  const { server, room, options } = parts;
  const { logger } = options;
  const port = await listen(server, options.port, options.host);
  server.on('error', (error: NodeJS.ErrnoException) =>
    logger.error({ err: error.message, code: error.code }, 'server error'),
  );
  room.startHeartbeat();
  const url = serverUrl(parts.scheme, options.host, port);
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
