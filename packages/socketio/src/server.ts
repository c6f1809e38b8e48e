import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import {
  CLOSE_LINGER,
  closeAllGracefully,
  guardHttpServer,
  httpRefusal,
  httpServerFor,
  isOriginAllowed,
  keepAcceptableDeflateOffers,
  type RealtimeServer,
  type RefusalReason,
  type ResolvedServerOptions,
  Room,
  type RoomTransport,
  remoteAddressOf,
  reportClosed,
  reportHeartbeatTimeout,
  reportRefusal,
  resolveServerOptions,
  type ServerMessage,
  type ServerObserver,
  type ServerOptions,
  serve,
  toEvent,
  wsLibraryDeflate,
} from '@socketlab/contract';
import { Server as EngineServer, type Socket as EngineSocket } from 'engine.io';
import { Server as IoServer, type Socket } from 'socket.io';
import { checkEngineInternals, pollResponseSocketOf, runQueuedPollingClose, wsSocketOf } from './internals.js';

/** socket.io's default path: what every stock client asks for (CONTRACT.md section 3). */
export const SOCKET_IO_PATH = '/socket.io/';

/** An engine.io packet as its `packetCreate` event gives it. */
interface EnginePacket {
  type?: string;
  data?: string | Buffer | ArrayBuffer | ArrayBufferView;
}

/** A message packet's bytes for the observer: the engine.io packets socket.io messages travel in. */
function countPacket(packet: EnginePacket, observer: ServerObserver | undefined, direction: 'in' | 'out'): void {
  if (!observer || packet.type !== 'message' || packet.data === undefined) return;
  const kind = typeof packet.data === 'string' ? 'text' : 'binary';
  const bytes = typeof packet.data === 'string' ? Buffer.byteLength(packet.data) : packet.data.byteLength;
  if (direction === 'in') observer.bytesIn?.(kind, bytes);
  else observer.bytesOut?.(kind, bytes);
}

const WS_CLOSED = 3;

/**
 * Per connection: bytes engine.io holds in its write buffer (it queues while its transport
 * is not writable: a websocket whose last batch the kernel has not taken, a polling client
 * with no GET pending), and the socket the last polling response went out on.
 */
class OutboundMeter {
  queuedBytes = 0;
  pollSocket: NetSocket | undefined;

  constructor(conn: EngineSocket, observer: ServerObserver | undefined) {
    conn.on('packetCreate', (packet: EnginePacket) => {
      this.queuedBytes += packetSize(packet);
      countPacket(packet, observer, 'out');
    });
    // engine.io hands its whole write buffer to the transport at once.
    conn.on('flush', () => {
      this.queuedBytes = 0;
      if (conn.transport.name === 'polling') this.pollSocket = pollResponseSocketOf(conn);
    });
  }

  /** Unsent bytes: engine.io's queue plus what its transport has not handed to the kernel. */
  bufferedAmount(conn: EngineSocket): number {
    if (conn.transport.name === 'websocket') return this.queuedBytes + (wsSocketOf(conn)?.bufferedAmount ?? 0);
    return this.queuedBytes + (this.pollSocket?.writableLength ?? 0);
  }
}

function packetSize(packet: EnginePacket): number {
  const { data } = packet;
  // One byte for the packet type.
  if (data === undefined) return 1;
  if (typeof data === 'string') return 1 + Buffer.byteLength(data);
  return 1 + data.byteLength;
}

/**
 * The underlying TCP socket of an upgrade, until it closes: ws ends it (both close frames
 * exchanged, or the connection failed for a limit or a protocol violation) and then waits for
 * the peer's FIN up to 30 s. The socket's public `finish` marks that moment: from then on a peer
 * silent for `CLOSE_LINGER` is destroyed (any input resets it). ws then reports the close, and
 * engine.io and socket.io after it.
 */
function lingerAfterEnd(socket: NetSocket, upgraded: Set<NetSocket>): void {
  upgraded.add(socket);
  socket.once('close', () => upgraded.delete(socket));
  socket.once('finish', () => socket.setTimeout(CLOSE_LINGER, () => socket.destroy()));
}

/**
 * A session that ended while its websocket was still open (a polite close the peer has not
 * answered yet: an over-limit message, a transport error): terminated after `CLOSE_LINGER`
 * instead of ws's 30 s. The session is already gone from socket.io's view (disconnect, leave).
 */
function terminateLeftover(conn: EngineSocket): void {
  const ws = wsSocketOf(conn);
  if (!ws || ws.readyState === WS_CLOSED) return;
  const timer = setTimeout(() => ws.terminate(), CLOSE_LINGER);
  ws.once('close', () => clearTimeout(timer));
}

/** Ends a connection now, without waiting for a peer that may never answer. */
function terminateTransport(conn: EngineSocket): void {
  if (conn.transport.name === 'websocket') {
    wsSocketOf(conn)?.terminate();
    return;
  }
  // A polling close queued for the next GET: run it now instead of after 30 s.
  runQueuedPollingClose(conn);
  // discard: close without waiting for the write buffer to drain.
  conn.close(true);
}

/**
 * The orderly close of one connection. Polling: the transport's own close, which rides on the
 * next poll together with whatever is queued (engine.io's `close()` would first wait for one
 * poll to drain the queue, then for another to carry the close).
 */
function closeTransport(conn: EngineSocket): void {
  if (conn.transport.name === 'polling') conn.transport.close();
  else conn.close();
}

/** Resolves when the connection is really gone: the websocket closed, or the polling session ended. */
function transportClosed(conn: EngineSocket): Promise<void> {
  const ws = wsSocketOf(conn);
  if (ws) {
    return new Promise((resolve) => (ws.readyState === WS_CLOSED ? resolve() : ws.once('close', () => resolve())));
  }
  return new Promise((resolve) => (conn.readyState === 'closed' ? resolve() : conn.once('close', () => resolve())));
}

/** Writes an HTTP refusal on a plain request: status, a text body that says why, and close. */
function answer(response: ServerResponse, status: number, reason: string): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
  response.end(`${reason}\n`);
}

/** The request target as a URL (only its path and query matter); undefined when unparsable. */
function requestUrl(request: IncomingMessage): URL | undefined {
  try {
    return new URL(request.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

/** engine.io's `httpCompression`: zlib options for gzip/deflate plus the size below which a body goes as is. */
function httpCompressionOf(
  deflate: ResolvedServerOptions['perMessageDeflate'],
): false | { threshold: number; level: number; memLevel: number } {
  if (!deflate) return false;
  return { threshold: deflate.threshold, level: deflate.level, memLevel: deflate.memLevel };
}

function emitTo(socket: Socket, message: ServerMessage): void {
  const [event, arg] = toEvent(message);
  socket.emit(event, arg);
}

/**
 * The contract server plus what `@socket.io/sticky`'s `setupWorker` needs: the server app's
 * `--workers` hands each worker its sessions' connections through `httpServer`.
 */
export interface SocketIoServer extends RealtimeServer {
  readonly httpServer: HttpServer;
  readonly engine: EngineServer;
}

/**
 * A listening contract server on socket.io, serving both the websocket and the long-polling
 * transports; attached to the app's server (`server`), only what is on `path`.
 */
export async function createServer(options: ServerOptions = {}): Promise<SocketIoServer> {
  // Before anything else: fails naming the engine.io internal an upgrade moved (see internals.ts).
  checkEngineInternals();
  const opts = resolveServerOptions(options);
  const { logger } = opts;
  // engine.io-client asks for its path with a slash at the end (`/live` -> `/live/`).
  const path = (opts.path ?? SOCKET_IO_PATH).replace(/\/?$/, '/');
  const attached = opts.server !== undefined;
  /** Per engine.io session, from its first packet on. */
  const meters = new Map<EngineSocket, OutboundMeter>();

  const engine = new EngineServer({
    transports: ['polling', 'websocket'],
    // The server pings every interval; a peer that has not answered by the next one is dropped.
    pingInterval: opts.heartbeatInterval,
    pingTimeout: opts.heartbeatInterval,
    // One ws frame or one polling POST body; socket.io's own default is 1e6, not 1 MiB.
    maxHttpBufferSize: opts.maxPayload,
    // The websocket transport: ws's permessage-deflate, the same mapping as the ws adapter.
    perMessageDeflate: wsLibraryDeflate(opts.perMessageDeflate),
    // Long-polling: gzip or deflate of a response body, when the request's Accept-Encoding
    // allows it. engine.io turns it on by default; the contract's compression is off by default.
    httpCompression: httpCompressionOf(opts.perMessageDeflate),
    // Refused origins never get here (see `serve` and the guard): every origin that does is
    // allowed, so reflecting it is exactly the allowlist. Browsers need it for polling.
    cors: { origin: true },
  });
  const io = new IoServer({
    path,
    serveClient: false,
    // An engine.io session that never joins a namespace is a handshake not completed in time.
    connectTimeout: opts.handshakeTimeout,
  });
  io.bind(engine);
  const namespace = io.of('/');

  // socket.io encodes the messages (events): its wire bytes are counted on engine.io's packets (countPacket).
  const transport: RoomTransport<Socket> = {
    send: (socket, message) => emitTo(socket, message),
    sendToMany: (sockets, message) => {
      // One emit to many: socket.io encodes the packet once. Writes are synchronous, so
      // each socket's order is the order of these calls.
      const [event, arg] = toEvent(message);
      if (sockets.length === namespace.sockets.size) io.local.emit(event, arg);
      else io.local.to(sockets.map((socket) => socket.id)).emit(event, arg);
    },
    sendBinary: () => {
      // socket.io has no top-level binary message: binary travels inside payloads (echo).
      throw new Error('socket.io carries binary inside event payloads only');
    },
    bufferedAmount: (socket) => meters.get(socket.conn)?.bufferedAmount(socket.conn) ?? 0,
    dropSlowConsumer: (socket) => {
      // Best effort disconnect packet (it will sit behind the backlog), then free the backlog.
      socket.disconnect(true);
      terminateTransport(socket.conn);
    },
  };
  const room = new Room(transport, opts);

  namespace.on('connection', (socket) => {
    const conn = socket.conn;
    const remoteAddress = socket.handshake.address;
    conn.on('close', (reason: string) => {
      // engine.io closes a websocket politely, leaving a dead peer's TCP open for ws's 30 s.
      if (reason === 'ping timeout') {
        reportHeartbeatTimeout(opts, socket.id, remoteAddress);
        terminateTransport(conn);
      }
    });
    socket.on('disconnect', (reason) => {
      reportClosed(opts, { id: socket.id, code: reason, remoteAddress });
      room.remove(socket);
    });
    socket.on('error', (error) => logger.debug({ id: socket.id, err: error.message }, 'connection error'));
    // Every event, known or not: the room answers unknown ones with bad_request.
    socket.onAny((event: string, ...args: unknown[]) => room.receiveEvent(socket, event, args[0]));
    room.add(socket, socket.id, remoteAddress);
  });

  /** engine.io sessions by id, for the polling requests that name one. */
  const sessions = new Map<string, EngineSocket>();
  engine.on('connection', (conn: EngineSocket) => {
    // The session id (engine.io sets it on the session's first transport; `conn.id` is private).
    const id = conn.transport.sid;
    sessions.set(id, conn);
    meters.set(conn, new OutboundMeter(conn, opts.observer));
    conn.once('close', () => {
      sessions.delete(id);
      meters.delete(conn);
      // While shutting down, the shutdown timeout is the wait for the closing handshakes.
      if (!shuttingDown) terminateLeftover(conn);
    });
    conn.on('packet', (packet: { type: string; data?: unknown }) => {
      countPacket(packet as EnginePacket, opts.observer, 'in');
      limitMessageSize(conn, packet);
    });
  });

  /**
   * A socket.io message with binary parts arrives as several engine.io packets, each under
   * maxHttpBufferSize on its own: sum them, so the contract's limit is on the message.
   */
  const partial = new WeakMap<EngineSocket, { bytes: number; attachments: number }>();
  function limitMessageSize(conn: EngineSocket, packet: { type: string; data?: unknown }): void {
    if (packet.type !== 'message') return;
    const { data } = packet;
    let state = partial.get(conn);
    if (typeof data === 'string') {
      // socket.io-parser: "5" (binary event) or "6" (binary ack), then the attachment count and "-".
      const match = /^[56](\d+)-/.exec(data);
      state = match ? { bytes: Buffer.byteLength(data), attachments: Number(match[1]) } : undefined;
    } else if (state && (Buffer.isBuffer(data) || data instanceof ArrayBuffer)) {
      state.bytes += data.byteLength;
      state.attachments -= 1;
    }
    if (state && state.bytes > opts.maxPayload) {
      logger.info({ bytes: state.bytes, remoteAddress: conn.remoteAddress }, 'message over maxPayload: disconnecting');
      partial.delete(conn);
      conn.close(true);
      return;
    }
    if (state && state.attachments > 0) partial.set(conn, state);
    else partial.delete(conn);
  }

  let shuttingDown = false;
  const refused = (socket: NetSocket, reason: RefusalReason, status: number, origin?: string): void =>
    reportRefusal(opts, { reason, status, remoteAddress: remoteAddressOf(socket), origin });
  /** Every socket handed to engine.io's upgrade, until it closes: no longer the http server's. */
  const upgraded = new Set<NetSocket>();
  const httpServer = httpServerFor(opts);
  const handshaking = guardHttpServer(
    httpServer,
    {
      ...opts,
      // Attached, what is off the path is the app's; standalone, it is answered 404 below.
      attached,
      path: attached ? path : undefined,
      // The subprotocol clause is the WebSocket adapters'; socket.io clients never offer one.
      requireProtocol: false,
      // Long-polling is plain HTTP: every request (handshake or later poll) passes the origin check here.
      serve: (request, response) => {
        const url = requestUrl(request);
        if (url?.pathname !== path) {
          refused(request.socket, 'path', 404);
          answer(response, 404, `this is a socket.io server: connect on ${path}`);
          return;
        }
        if (!isOriginAllowed(request.headers.origin, opts.allowedOrigins)) {
          refused(request.socket, 'origin', 403, request.headers.origin);
          answer(response, 403, 'origin not allowed');
          return;
        }
        const sid = url.searchParams.get('sid');
        if (shuttingDown && sid === null) {
          refused(request.socket, 'shutting_down', 503);
          answer(response, 503, 'server shutting down');
          return;
        }
        if (request.method === 'POST' && sid !== null) watchOverLimitPost(sid, response);
        engine.handleRequest(request, response);
      },
    },
    // The guard already refused a bad upgrade, a foreign origin included, with its 4xx.
    (request, socket, head) => {
      if (requestUrl(request)?.pathname !== path) {
        refused(socket as NetSocket, 'path', 404);
        socket.end(httpRefusal(404, `this is a socket.io server: connect on ${path}`));
        return;
      }
      if (shuttingDown) {
        refused(socket as NetSocket, 'shutting_down', 503);
        socket.end(httpRefusal(503, 'server shutting down'));
        return;
      }
      lingerAfterEnd(socket as NetSocket, upgraded);
      // engine.io's ws refuses with 400 an offer it cannot accept; the contract upgrades uncompressed.
      keepAcceptableDeflateOffers(request.headers, opts.perMessageDeflate);
      engine.handleUpgrade(request, socket, head);
    },
  );

  /**
   * engine.io answers a polling POST over maxHttpBufferSize with 413 but keeps the session:
   * the contract closes that connection (socket.io: disconnect), so close it here.
   */
  function watchOverLimitPost(sid: string, response: ServerResponse): void {
    response.once('finish', () => {
      if (response.statusCode !== 413) return;
      const conn = sessions.get(sid);
      if (!conn) return;
      logger.info({ sid, remoteAddress: conn.remoteAddress }, 'polling POST over maxPayload: disconnecting');
      conn.close(true);
    });
  }

  const server = await serve({
    server: httpServer,
    scheme: 'http',
    options: opts,
    room,
    shutdown: async () => {
      // Polling sessions need new HTTP requests (often on new connections) to receive their
      // close and to answer it, so the listener stays open until they are done; only new
      // sessions are refused meanwhile.
      shuttingDown = true;
      await closeAllGracefully(
        room.connections(),
        {
          // An engine.io close, not socket.disconnect(): a socket.io client takes "io server
          // disconnect" as "do not come back", while a transport close (what 1001 says) lets it
          // reconnect to another server.
          close: (socket) => closeTransport(socket.conn),
          terminate: (socket) => terminateTransport(socket.conn),
          closed: (socket) => transportClosed(socket.conn),
        },
        opts.shutdownTimeout,
      );
      // Sessions that never joined a namespace, and engine.io's ws server.
      await io.close();
      if (attached) {
        // The app's server and its other connections stay; only ours go.
        handshaking.detach();
        for (const socket of upgraded) socket.destroy();
        return;
      }
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      for (const socket of handshaking) socket.destroy();
      // What is left of sessions already over: sockets ws still holds for a peer's close or FIN.
      for (const socket of upgraded) socket.destroy();
      httpServer.closeAllConnections();
      await stopped;
    },
  });
  return Object.assign(server, { httpServer, engine });
}
