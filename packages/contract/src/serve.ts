import type { Server } from 'node:net';
import type { RealtimeServer } from './adapter.js';
import type { Logger } from './logger.js';
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

/**
 * The `RealtimeServer` every adapter returns: counts and stats come from its room, and
 * `close()` runs the adapter's shutdown once however often it is called.
 */
export function realtimeServer<C>(parts: {
  url: string;
  port: number;
  room: Room<C>;
  logger: Logger;
  shutdown: () => Promise<void>;
}): RealtimeServer {
  const { url, port, room, logger } = parts;
  logger.info({ url }, 'listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    get connectionCount() {
      return room.size;
    },
    stats: () => ({ connections: room.size, peakBufferedBytes: room.peakBufferedBytes }),
    close: () => {
      closing ??= parts.shutdown().then(() => {
        room.close();
        logger.info({}, 'closed');
      });
      return closing;
    },
  };
}
