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
import { isOnPath, isTlsServer } from './serve.js';

export interface GuardOptions extends HandshakePolicy {
  handshakeTimeout: number;
  logger: Logger;
  /**
   * Serves plain HTTP requests instead of the 426 answer, for a library that also speaks
   * plain HTTP (socket.io's long-polling). The head timeout and head limit still apply.
   */
  serve?: (request: IncomingMessage, response: ServerResponse) => void;
  /**
   * The server is the app's (`createServer({ server })`): its connections, parse errors and
   * requests off `path` stay the app's, and an upgrade off `path` is left to its other listeners.
   */
  attached?: boolean;
  /** Upgrades (and, attached, `serve`'s requests) only on this path; undefined: every path. */
  path?: string;
  observer?: ServerObserver | undefined;
  /** Plain requests the app answers itself, before `serve` or the 426. */
  httpEndpoints?: HttpEndpoints | undefined;
}

/** What `guardHttpServer` returns: the sockets still in their handshake, and how to let go of the server. */
export interface Guard extends Set<Duplex> {
  /** Removes every listener the guard added (the app's request listeners are put back). */
  detach(): void;
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
): Guard {
  const attached = options.attached ?? false;
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

  // TLS: the request's socket is the TLSSocket, which exists once the TLS handshake is done
  // (node:tls bounds that one with the same timeout).
  const onConnection = (socket: Duplex): void => {
    handshaking.add(socket);
    const timer = setTimeout(() => {
      refused(socket, 'timeout', 408);
      refuse(socket, 408, 'request head not complete within the handshake timeout');
    }, options.handshakeTimeout);
    timer.unref();
    timers.set(socket, timer);
    socket.once('close', () => settle(socket));
  };

  const onClientError = (error: NodeJS.ErrnoException, socket: Duplex): void => {
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
  };

  // Attached with plain HTTP of its own (socket.io): the app's request listeners get every
  // request off `path`, as socket.io's own attach does.
  const appListeners = attached && options.serve ? server.listeners('request') : [];
  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    if (attached && !isOnPath(request.url, options.path)) {
      for (const listener of appListeners) listener.call(server, request, response);
      if (appListeners.length === 0) {
        response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        response.end('not found\n');
      }
      return;
    }
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
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Another path on the app's server: another listener's (another adapter's, the app's).
    if (attached && !isOnPath(request.url, options.path)) return;
    settle(socket);
    if (upgradeHeadSize(request, socket, head, !servedBefore.has(socket)) > DEFAULTS.maxHeadSize) {
      refused(socket, 'head_too_large', 431);
      refuse(socket, 431, 'request head too large');
      return;
    }
    if (!isOnPath(request.url, options.path)) {
      refused(socket, 'path', 404);
      refuse(socket, 404, `no WebSocket endpoint here: connect on ${options.path}`);
      return;
    }
    const verdict = checkUpgrade(request, options);
    if (!verdict.ok) {
      refused(socket, verdict.refusal, verdict.status, request.headers.origin, verdict.reason);
      refuse(socket, verdict.status, verdict.reason, verdict.headers);
      return;
    }
    accept(request, socket, head, verdict);
  };

  const connectionEvent = isTlsServer(server) ? 'secureConnection' : 'connection';
  if (!attached) {
    server.on(connectionEvent, onConnection);
    server.on('clientError', onClientError);
  }
  if (!attached || options.serve) {
    for (const listener of appListeners) server.off('request', listener as (...args: unknown[]) => void);
    server.on('request', onRequest);
  }
  server.on('upgrade', onUpgrade);

  return Object.assign(handshaking, {
    detach: () => {
      server.off(connectionEvent, onConnection);
      server.off('clientError', onClientError);
      server.off('request', onRequest);
      server.off('upgrade', onUpgrade);
      for (const listener of appListeners) server.on('request', listener as (...args: unknown[]) => void);
    },
  });
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
