import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { checkUpgrade, type HandshakePolicy, type HandshakeVerdict, httpRefusal } from './handshake.js';
import type { Logger } from './logger.js';

export interface GuardOptions extends HandshakePolicy {
  handshakeTimeout: number;
  logger: Logger;
  /**
   * Serves plain HTTP requests instead of the 426 answer, for a library that also speaks
   * plain HTTP (socket.io's long-polling). The head timeout and head limit still apply.
   */
  serve?: (request: IncomingMessage, response: ServerResponse) => void;
}

/**
 * Puts CONTRACT.md section 3 in front of a library that would otherwise decide alone: the
 * head timeout (Node checks `headersTimeout` only every 30 s), the 16 KiB head limit, a
 * 426 for plain HTTP, and `checkUpgrade` before any upgrade. Calls `accept` for an
 * upgrade that passed. Returns the sockets still in their handshake, for shutdown.
 */
export function guardHttpServer(
  server: HttpServer,
  options: GuardOptions,
  accept: (request: IncomingMessage, socket: Duplex, head: Buffer, verdict: HandshakeVerdict & { ok: true }) => void,
): Set<Duplex> {
  const handshaking = new Set<Duplex>();
  const timers = new WeakMap<Duplex, NodeJS.Timeout>();
  const settle = (socket: Duplex): void => {
    clearTimeout(timers.get(socket));
    handshaking.delete(socket);
  };

  server.on('connection', (socket: Duplex) => {
    handshaking.add(socket);
    const timer = setTimeout(() => {
      options.logger.debug({}, 'handshake timeout');
      refuse(socket, 408, 'request head not complete within the handshake timeout');
    }, options.handshakeTimeout);
    timer.unref();
    timers.set(socket, timer);
    socket.once('close', () => settle(socket));
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    settle(socket);
    if (error.code === 'HPE_HEADER_OVERFLOW') refuse(socket, 431, 'request head too large');
    else if (error.code === 'ECONNRESET' || !socket.writable) socket.destroy();
    else refuse(socket, 400, 'malformed HTTP request');
  });

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    settle(request.socket);
    if (options.serve) {
      options.serve(request, response);
      return;
    }
    const verdict = checkUpgrade(request, options);
    const status = verdict.ok ? 426 : verdict.status;
    const reason = verdict.ok ? 'this is a WebSocket server' : verdict.reason;
    response.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      ...(verdict.ok ? {} : verdict.headers),
      Connection: 'close',
    });
    response.end(`${reason}\n`);
  });

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    settle(socket);
    const verdict = checkUpgrade(request, options);
    if (!verdict.ok) {
      options.logger.debug({ status: verdict.status, reason: verdict.reason }, 'handshake refused');
      refuse(socket, verdict.status, verdict.reason, verdict.headers);
      return;
    }
    accept(request, socket, head, verdict);
  });

  return handshaking;
}

/** Answers with a complete HTTP refusal and closes; never throws on a dead socket. */
export function refuse(socket: Duplex, status: number, reason: string, headers?: Record<string, string>): void {
  if (socket.writable) socket.end(httpRefusal(status, reason, headers));
  // A peer that never reads must not hold the socket open.
  setTimeout(() => socket.destroy(), 1_000).unref();
}
