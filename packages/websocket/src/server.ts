import type { Socket } from 'node:net';
import {
  CloseCode,
  CloseReason,
  guardHttpServer,
  type HandshakeVerdict,
  httpServerFor,
  newConnectionId,
  type RealtimeServer,
  Room,
  type RoomTransport,
  reportClosed,
  reportHeartbeatTimeout,
  resolveServerOptions,
  type ServerOptions,
  serve,
  servedPath,
  shutdownWebSocketServer,
} from '@socketlab/contract';
import websocket from 'websocket';
import { hardenConnection } from './hardening.js';
import { checkConnectionInternals, probeConnection } from './internals.js';

type Connection = websocket.connection;

/**
 * The adapter's own defaults, on top of the contract's: WebSocket-Node's classic examples
 * insist on their subprotocol, so this server refuses a client that offers none unless
 * it is started with `requireProtocol: false` (CONTRACT.md section 3).
 */
export const WEBSOCKET_ADAPTER_DEFAULTS: Partial<ServerOptions> = { requireProtocol: true };

/** What WebSocket-Node's close event says when its keepalive dropped a peer that did not answer. */
const KEEPALIVE_TIMEOUT_DESCRIPTION = 'Peer not responding.';

/** Room transport over WebSocket-Node connections. */
const transport: RoomTransport<Connection> = {
  // A connection in its closing handshake is still in the room until its close event;
  // the library would write after end() and fail the socket, so skip it.
  sendText: (connection, text) => {
    if (connection.connected) connection.sendUTF(text);
  },
  sendTextToMany: (connections, text) => {
    for (const connection of connections) if (connection.connected) connection.sendUTF(text);
  },
  sendBinary: (connection, data) => {
    if (connection.connected) connection.sendBytes(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  },
  // The library queues nothing itself: every frame goes straight to socket.write().
  bufferedAmount: (connection) => connection.socket.writableLength,
  dropSlowConsumer: (connection) => {
    connection.close(CloseCode.policyViolation, CloseReason.slowConsumer);
    connection.drop(CloseCode.policyViolation, CloseReason.slowConsumer, true);
  },
};

/** A listening contract server on WebSocket-Node. */
export async function createServer(options: ServerOptions = {}): Promise<RealtimeServer> {
  // Before anything else: fails naming the WebSocket-Node internal an upgrade moved (see internals.ts).
  checkConnectionInternals(probeConnection());
  const opts = resolveServerOptions(options, WEBSOCKET_ADAPTER_DEFAULTS);
  const { logger } = opts;
  const room = new Room(transport, opts);
  const closedConnections = new WeakMap<Connection, Promise<void>>();
  /** Dropped connections still reading their peer's last bytes (see lingerOnDrop). */
  const lingering = new Set<Socket>();
  const httpServer = httpServerFor(opts);
  const attached = opts.server !== undefined;

  // parseCookies and parseExtensions are library options @types/websocket does not list.
  const config: websocket.IServerConfig & { parseCookies: boolean; parseExtensions: boolean } = {
    httpServer,
    // The classic example made safe: nothing is accepted without the checks below.
    autoAcceptConnections: false,
    // The library checks frames against the first and assembled messages against the second.
    maxReceivedFrameSize: opts.maxPayload,
    maxReceivedMessageSize: opts.maxPayload,
    // Its keepalive pings a connection idle for one interval and drops one that sends
    // nothing (a pong included) within the next: the contract's heartbeat.
    keepalive: true,
    keepaliveInterval: opts.heartbeatInterval,
    dropConnectionOnKeepaliveTimeout: true,
    keepaliveGracePeriod: opts.heartbeatInterval,
    useNativeKeepalive: false,
    closeTimeout: opts.shutdownTimeout,
    // The contract neither reads cookies nor trusts proxies; don't parse what nobody uses.
    ignoreXForwardedFor: true,
    parseCookies: false,
    parseExtensions: false,
  };
  const library = new websocket.server(config);
  // mount() listened to every upgrade on the http server, before any check of ours; from
  // here on only the guard hands it upgrades, and only those that passed checkUpgrade.
  library.unmount();

  const open = (connection: Connection): void => {
    const id = newConnectionId();
    const { remoteAddress } = connection;
    // The connection removed every socket error listener and adds its own only once the
    // 101 answer is flushed: an error in between would otherwise crash the process.
    connection.socket.on('error', (error) => logger.debug({ err: error.message }, 'socket error'));
    hardenConnection(connection, {
      lingerMs: opts.shutdownTimeout,
      lingering,
      // The room is left when the closing handshake is done, not when a peer that never sends
      // its FIN is finally gone (a drop emits close at once).
      onClosingHandshakeDone: () => room.remove(connection),
    });
    closedConnections.set(connection, new Promise((resolve) => connection.once('close', () => resolve())));
    connection.on('error', (error) =>
      logger.debug({ id: room.idOf(connection), err: error.message }, 'connection error'),
    );
    connection.on('close', (code, description) => {
      // The library's keepalive (the contract's heartbeat here) drops a silent peer with this text.
      if (description === KEEPALIVE_TIMEOUT_DESCRIPTION) reportHeartbeatTimeout(opts, id, remoteAddress);
      reportClosed(opts, { id, code, remoteAddress }, { description });
      room.remove(connection);
    });
    connection.on('message', (message) => {
      if (message.type === 'utf8') room.receiveText(connection, message.utf8Data);
      else room.receiveBinary(connection, message.binaryData);
    });
    room.add(connection, id, remoteAddress);
  };

  const verdicts = new WeakMap<Socket, HandshakeVerdict & { ok: true }>();
  library.on('request', (request) => {
    const verdict = verdicts.get(request.socket);
    verdicts.delete(request.socket);
    // Not reachable through the guard; refuse rather than accept something unchecked.
    if (!verdict) {
      request.reject(400, 'handshake not checked');
      return;
    }
    // No Origin header in the answer: the classic example echoes it, RFC 6455 has no such header.
    const connection = request.accept(verdict.protocol ?? null);
    open(connection);
  });

  const guardOptions = { ...opts, attached, path: servedPath(opts, '/') };
  const handshaking = guardHttpServer(httpServer, guardOptions, (request, socket, head, verdict) => {
    // WebSocket-Node's handleUpgrade ignores bytes that came with the request head: give
    // them back to the socket so the connection reads them as its first frames.
    if (head.length > 0) socket.unshift(head);
    verdicts.set(socket as Socket, verdict);
    library.handleUpgrade(request, socket as Socket);
  });

  return serve({
    server: httpServer,
    scheme: 'ws',
    options: opts,
    room,
    // Not library.shutDown(): it closes with 1000 instead of 1001, never terminates a peer
    // that does not answer, and gives no way to learn when it is done.
    shutdown: () =>
      shutdownWebSocketServer({
        server: httpServer,
        handshaking,
        connections: room.connections(),
        close: (connection) => connection.close(CloseCode.goingAway, CloseReason.shutdown),
        terminate: (connection) => connection.drop(CloseCode.goingAway, CloseReason.shutdown, true),
        closed: (connection) => closedConnections.get(connection) ?? Promise.resolve(),
        timeoutMs: opts.shutdownTimeout,
        lingering,
        attached,
        detach: handshaking.detach,
      }),
  });
}
