import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { checkUpgrade, type HandshakePolicy, type HandshakeVerdict, httpRefusal } from './handshake.js';
import type { Logger } from './logger.js';
import {
  type HttpEndpoints,
  type PlainAnswer,
  type RefusalReason,
  reportRefusal,
  type ServerObserver,
} from './operations.js';
import { DEFAULTS } from './options.js';

export interface GuardOptions extends HandshakePolicy {
  handshakeTimeout: number;
  logger: Logger;
  /**
   * Serves plain HTTP requests instead of the 426 answer, for a library that also speaks
   * plain HTTP (socket.io's long-polling). The head timeout and head limit still apply.
   */
  serve?: (request: IncomingMessage, response: ServerResponse) => void;
  observer?: ServerObserver | undefined;
  /** Plain requests the app answers itself, before `serve` or the 426. */
  httpEndpoints?: HttpEndpoints | undefined;
}

/** The peer's address of a socket in an http server's hands (a net.Socket or tls.TLSSocket). */
export function remoteAddressOf(socket: Duplex): string | undefined {
  return (socket as Duplex & { remoteAddress?: string }).remoteAddress;
}

/** Writes an endpoint's answer on a plain response. */
export function writePlainAnswer(response: ServerResponse, answer: PlainAnswer): void {
  response.writeHead(answer.status, { 'Content-Length': Buffer.byteLength(answer.body), ...answer.headers });
  response.end(answer.body);
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
  /** Sockets that carried a plain request before: what they read is no longer one head. */
  const servedBefore = new WeakSet<Duplex>();
  const settle = (socket: Duplex): void => {
    clearTimeout(timers.get(socket));
    handshaking.delete(socket);
  };

  const refused = (socket: Duplex, reason: RefusalReason, status: number, origin?: string, why?: string): void =>
    reportRefusal(options, { reason, status, remoteAddress: remoteAddressOf(socket), origin }, why);

  server.on('connection', (socket: Duplex) => {
    handshaking.add(socket);
    const timer = setTimeout(() => {
      refused(socket, 'timeout', 408);
      refuse(socket, 408, 'request head not complete within the handshake timeout');
    }, options.handshakeTimeout);
    timer.unref();
    timers.set(socket, timer);
    socket.once('close', () => settle(socket));
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    settle(socket);
    if (error.code === 'HPE_HEADER_OVERFLOW') {
      refused(socket, 'head_too_large', 431);
      refuse(socket, 431, 'request head too large');
    } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // Node's own headersTimeout / requestTimeout: a request that did not arrive in time.
      refused(socket, 'timeout', 408);
      refuse(socket, 408, 'request not complete in time');
    } else if (error.code === 'ECONNRESET' || !socket.writable) socket.destroy();
    else {
      refused(socket, 'malformed', 400, undefined, error.code);
      refuse(socket, 400, 'malformed HTTP request');
    }
  });

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    settle(request.socket);
    servedBefore.add(request.socket);
    if (requestHeadSize(request) > DEFAULTS.maxHeadSize) {
      refused(request.socket, 'head_too_large', 431);
      response.writeHead(431, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      response.end('request head too large\n');
      return;
    }
    const endpoint = options.httpEndpoints?.({
      method: request.method ?? 'GET',
      url: request.url ?? '/',
      remoteAddress: remoteAddressOf(request.socket),
    });
    if (endpoint) {
      endpoint.then(
        (answer) => writePlainAnswer(response, answer),
        (error: unknown) => {
          options.logger.error({ err: (error as Error).message, url: request.url }, 'endpoint failed');
          writePlainAnswer(response, {
            status: 500,
            headers: { 'Content-Type': 'text/plain' },
            body: 'internal error\n',
          });
        },
      );
      return;
    }
    if (options.serve) {
      options.serve(request, response);
      return;
    }
    const verdict = checkUpgrade(request, options);
    const status = verdict.ok ? 426 : verdict.status;
    refused(request.socket, verdict.ok ? 'not_upgrade' : verdict.refusal, status, request.headers.origin);
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
    if (upgradeHeadSize(request, socket, head, !servedBefore.has(socket)) > DEFAULTS.maxHeadSize) {
      refused(socket, 'head_too_large', 431);
      refuse(socket, 431, 'request head too large');
      return;
    }
    const verdict = checkUpgrade(request, options);
    if (!verdict.ok) {
      refused(socket, verdict.refusal, verdict.status, request.headers.origin, verdict.reason);
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

/**
 * The size of an upgrade request's head. On a connection's first request it is exact: every
 * byte read from the socket so far, less those after the head. `requestHeadSize` reads the
 * parsed request, where Node has dropped the whitespace before header values and every header
 * past about a thousand, so a head padded either way passed it well over 16 KiB; it is left for
 * an upgrade that follows plain requests on a keep-alive connection.
 */
function upgradeHeadSize(request: IncomingMessage, socket: Duplex, rest: Buffer, firstOnSocket: boolean): number {
  const { bytesRead } = socket as Duplex & { bytesRead?: unknown };
  return firstOnSocket && typeof bytesRead === 'number' ? bytesRead - rest.length : requestHeadSize(request);
}

/**
 * The size of the request head as it came on the wire: request line, header lines and the
 * blank line. Node's `maxHeaderSize` leaves the request line out, so a head a few dozen
 * bytes over 16 KiB would pass it; every adapter measures the head the same way here.
 */
export function requestHeadSize(request: IncomingMessage): number {
  let size = Buffer.byteLength(`${request.method} ${request.url} HTTP/${request.httpVersion}\r\n`, 'latin1') + 2;
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    size += Buffer.byteLength(raw[i]!, 'latin1') + Buffer.byteLength(raw[i + 1]!, 'latin1') + 4;
  }
  return size;
}
