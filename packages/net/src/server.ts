import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import {
  CloseCode,
  CloseReason,
  checkUpgrade,
  DEFAULTS,
  isOnPath,
  netServerFor,
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
  servedPath,
  shutdownWebSocketServer,
} from '@socketlab/contract';
import { Connection, type ConnectionListener, type QueuedFrame } from './connection.js';
import { Opcode } from './constants.js';
import { HeadReader, parseRequestHead, plainHttpAnswer, switchingProtocols } from './handshake.js';
import { type Acceptance, acceptOffer, PerMessageDeflate } from './permessage-deflate.js';
import { encodeCompressedFrame, encodeFrame } from './sender.js';

/**
 * A fan-out frames its message once, and compresses it once: every recipient that negotiated
 * permessage-deflate with the same compressor parameters shares one compressed frame (this
 * server never uses context takeover for what it sends, so a compressed message does not
 * depend on what each connection was sent before), and the others share the plain frame.
 */
function broadcast(conns: Iterable<Connection>, text: string): void {
  let plain: Buffer | undefined;
  let bytes: Buffer | undefined;
  let shared: Map<unknown, QueuedFrame> | undefined;
  for (const conn of conns) {
    const deflate = conn.compression;
    if (deflate !== undefined) {
      bytes ??= Buffer.from(text);
      if (bytes.length >= deflate.threshold) {
        shared ??= new Map();
        let frame = shared.get(deflate.deflateKey);
        if (frame === undefined) {
          frame = compressOnce(deflate, bytes);
          shared.set(deflate.deflateKey, frame);
        }
        conn.sendShared(frame);
        continue;
      }
    }
    plain ??= encodeFrame(Opcode.text, text);
    conn.sendFrame(plain);
  }
}

function compressOnce(deflate: PerMessageDeflate, bytes: Buffer): QueuedFrame {
  const shared: QueuedFrame = { frame: undefined, done: false, bytes: bytes.length, waiters: [] };
  deflate.compress(bytes, (error, payload) => {
    shared.frame = error === undefined ? encodeCompressedFrame(Opcode.text, payload) : encodeFrame(Opcode.text, bytes);
    shared.done = true;
    const waiters = shared.waiters ?? [];
    shared.waiters = undefined;
    for (const conn of waiters) conn.flushQueued();
  });
  return shared;
}

/** Room transport over hand-made connections. */
const transport: RoomTransport<Connection> = {
  sendText: (conn, text) => conn.sendText(text),
  sendTextToMany: (conns, text) => broadcast(conns, text),
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

/**
 * A listening contract server: RFC 6455 by hand on node:net (node:tls with `tls`). Attached
 * to the app's http server (`server`), node:http reads the upgrade's head and the rest is the same.
 */
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
    violation(conn, error) {
      logger.debug({ id: room.idOf(conn), code: error.code, detail: error.reason }, 'protocol violation');
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

  const deflateConfig = opts.perMessageDeflate;
  const upgrade = (
    socket: Socket,
    key: string,
    protocol: string | undefined,
    rest: Buffer,
    accepted: Acceptance | undefined,
  ): void => {
    // The 101 and the welcome leave together.
    socket.cork();
    socket.write(switchingProtocols(key, protocol, accepted?.response));
    const conn = new Connection(socket, {
      role: 'server',
      maxPayload: opts.maxPayload,
      pongBacklogLimit: opts.outboundLimit,
      listener,
      deflate:
        accepted !== undefined && deflateConfig !== false
          ? new PerMessageDeflate(accepted.params, 'server', deflateConfig, opts.maxPayload)
          : undefined,
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

  /** The permessage-deflate parameters accepted for this request's offers, if any. */
  const negotiate = (headers: IncomingHttpHeaders) => {
    if (deflateConfig === false) return undefined;
    const offers = headers['sec-websocket-extensions'];
    return acceptOffer(Array.isArray(offers) ? offers.join(', ') : offers, deflateConfig);
  };

  /** Undefined standalone without `path`: every path. */
  const path = servedPath(opts, '/');

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

  /** Reads the request head by hand: incrementally, bounded in size and in time. */
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
      // A plain request for the app (/healthz, /metrics) is answered on any path, as node:http's are.
      if (!verdict.ok && verdict.refusal === 'not_upgrade') {
        if (answerEndpoint(socket, request.value.method, request.value.path)) return;
      }
      if (!isOnPath(request.value.path, path)) {
        refused(socket, 'path', 404);
        refuse(socket, 404, `no WebSocket endpoint here: connect on ${path}`);
        return;
      }
      if (!verdict.ok) {
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
      upgrade(socket, verdict.key, verdict.protocol, result.rest, negotiate(request.value.headers));
    };
    socket.on('data', onData);
    // Errors are followed by 'close'; a reset during the handshake must not crash anything.
    socket.on('error', onHandshakeSocketError);
    socket.once('close', settle);
  };

  /**
   * Attached: the app's node:http parsed the head (its own limits and timeouts apply); an
   * upgrade on another path is another listener's.
   */
  const onAppUpgrade = (request: IncomingMessage, socket: Socket, head: Buffer): void => {
    if (!isOnPath(request.url, path)) return;
    const verdict = checkUpgrade(request, opts);
    if (!verdict.ok) {
      refused(socket, verdict.refusal, verdict.status, request.headers.origin, verdict.reason);
      refuse(socket, verdict.status, verdict.reason, verdict.headers);
      return;
    }
    socket.setNoDelay(true);
    upgrade(socket, verdict.key, verdict.protocol, head, negotiate(request.headers));
  };
  const appServer = opts.server;
  appServer?.on('upgrade', onAppUpgrade);
  const server = appServer ?? netServerFor(opts, handshake);
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
        attached: appServer !== undefined,
        detach: () => appServer?.off('upgrade', onAppUpgrade),
      }),
  });
}
