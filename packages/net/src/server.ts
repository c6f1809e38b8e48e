import { createServer as createNetServer, type Socket } from 'node:net';
import {
  CloseCode,
  CloseReason,
  checkUpgrade,
  DEFAULTS,
  encodeServerText,
  type RealtimeServer,
  type RefusalReason,
  Room,
  type RoomTransport,
  refuse,
  reportClosed,
  reportRefusal,
  resolveServerOptions,
  type ServerOptions,
  serve,
  shutdownWebSocketServer,
} from '@socketlab/contract';
import { Connection, type ConnectionListener } from './connection.js';
import { Opcode } from './constants.js';
import { HeadReader, parseRequestHead, plainHttpAnswer, switchingProtocols } from './handshake.js';
import { encodeFrame } from './sender.js';

/** Room transport over hand-made connections; a fan-out frames its message once. */
const transport: RoomTransport<Connection> = {
  send: (conn, message) => conn.sendText(encodeServerText(message)),
  sendToMany: (conns, message) => {
    const frame = encodeFrame(Opcode.text, encodeServerText(message));
    for (const conn of conns) conn.sendFrame(frame);
  },
  sendBinary: (conn, data) => conn.sendBinary(data),
  bufferedAmount: (conn) => conn.bufferedAmount,
  dropSlowConsumer: (conn) => {
    conn.close(CloseCode.policyViolation, CloseReason.slowConsumer);
    conn.terminate();
  },
  heartbeat: {
    ping: (conn) => conn.ping(),
    terminate: (conn) => conn.terminate(),
  },
};

/** A listening contract server: RFC 6455 by hand on node:net. */
export async function createServer(options: ServerOptions = {}): Promise<RealtimeServer> {
  const opts = resolveServerOptions(options);
  const { logger } = opts;
  const room = new Room(transport, opts);
  /** Sockets still in their opening handshake, and upgraded connections until their socket closes. */
  const handshaking = new Set<Socket>();
  const connections = new Set<Connection>();

  // One listener for every connection of this server: an idle connection holds no closures.
  const listener: ConnectionListener = {
    text(conn, text) {
      room.receiveText(conn, text);
    },
    binary(conn, data) {
      room.receiveBinary(conn, data);
    },
    pong(conn) {
      room.pong(conn);
    },
    handlerError(conn, error) {
      logger.error(
        { id: room.idOf(conn), err: error instanceof Error ? error.message : String(error) },
        'handler failed',
      );
    },
    // Leave as soon as the closing handshake is done (or the connection failed), not when a
    // peer that never sends its FIN is finally destroyed.
    finished(conn, code) {
      reportClosed(opts, { id: room.idOf(conn), code, remoteAddress: room.remoteAddressOf(conn) });
      room.remove(conn);
    },
    closed(conn) {
      connections.delete(conn);
    },
  };

  const upgrade = (socket: Socket, key: string, protocol: string | undefined, rest: Buffer): void => {
    // The 101 and the welcome leave together.
    socket.cork();
    socket.write(switchingProtocols(key, protocol));
    const conn = new Connection(socket, {
      role: 'server',
      maxPayload: opts.maxPayload,
      pongBacklogLimit: opts.outboundLimit,
      listener,
    });
    connections.add(conn);
    room.add(conn, undefined, socket.remoteAddress);
    conn.start(rest);
    socket.uncork();
  };

  // Shared by every socket in its handshake: a per-socket closure here would share the
  // handshake's scope (its head reader, timer and buffers) and keep it alive for as long as
  // the connection is open.
  const onHandshakeSocketError = (error: Error): void => logger.debug({ err: error.message }, 'socket error');

  /** Reads the request head by hand: incrementally, bounded in size and in time. */
  const refused = (socket: Socket, reason: RefusalReason, status: number, origin?: string, why?: string): void =>
    reportRefusal(opts, { reason, status, remoteAddress: socket.remoteAddress, origin }, why);

  /** A plain request the app answers itself (/healthz, /metrics); false when it is not one. */
  const answerEndpoint = (socket: Socket, method: string, url: string): boolean => {
    const endpoint = opts.httpEndpoints?.({ method, url, remoteAddress: socket.remoteAddress });
    if (!endpoint) return false;
    endpoint.then(
      (answer) => {
        if (socket.writable) socket.end(plainHttpAnswer(answer.status, answer.headers, answer.body));
        // A peer that never reads must not hold the socket open.
        setTimeout(() => socket.destroy(), 1_000).unref();
      },
      (error: unknown) => {
        logger.error({ err: (error as Error).message, url }, 'endpoint failed');
        refuse(socket, 500, 'internal error');
      },
    );
    return true;
  };

  const handshake = (socket: Socket): void => {
    handshaking.add(socket);
    const reader = new HeadReader(DEFAULTS.maxHeadSize);
    // Every listener that closes over the reader goes once the handshake is settled, so an
    // open connection does not keep its request head's buffer alive.
    const settle = (): void => {
      clearTimeout(timer);
      handshaking.delete(socket);
      socket.off('data', onData);
      socket.off('close', settle);
    };
    const timer = setTimeout(() => {
      settle();
      refused(socket, 'timeout', 408);
      refuse(socket, 408, 'request head not complete within the handshake timeout');
    }, opts.handshakeTimeout);
    timer.unref();
    const onData = (chunk: Buffer): void => {
      const result = reader.push(chunk);
      if (result.kind === 'incomplete') return;
      settle();
      if (result.kind === 'tooLarge') {
        refused(socket, 'head_too_large', 431);
        refuse(socket, 431, 'request head too large');
        return;
      }
      const request = parseRequestHead(result.head);
      if (!request.ok) {
        refused(socket, 'malformed', 400, undefined, request.reason);
        refuse(socket, 400, `malformed HTTP request: ${request.reason}`);
        return;
      }
      const verdict = checkUpgrade(request.value, opts);
      if (!verdict.ok) {
        if (verdict.refusal === 'not_upgrade' && answerEndpoint(socket, request.value.method, request.value.path)) {
          return;
        }
        const origin = request.value.headers.origin;
        refused(
          socket,
          verdict.refusal,
          verdict.status,
          typeof origin === 'string' ? origin : undefined,
          verdict.reason,
        );
        refuse(socket, verdict.status, verdict.reason, verdict.headers);
        return;
      }
      upgrade(socket, verdict.key, verdict.protocol, result.rest);
    };
    socket.on('data', onData);
    // Errors are followed by 'close'; a reset during the handshake must not crash anything.
    socket.on('error', onHandshakeSocketError);
    socket.once('close', settle);
  };

  const server = createNetServer({ noDelay: true }, handshake);
  return serve({
    server,
    scheme: 'ws',
    options: opts,
    room,
    shutdown: () =>
      shutdownWebSocketServer({
        server,
        handshaking,
        // Every upgraded connection, also one already closing after a protocol error.
        connections: [...connections],
        close: (conn) => conn.close(CloseCode.goingAway, CloseReason.shutdown),
        terminate: (conn) => conn.terminate(),
        closed: (conn) => conn.closed,
        timeoutMs: opts.shutdownTimeout,
      }),
  });
}
