import type { Socket } from 'node:net';
import {
  CLOSE_LINGER,
  CloseCode,
  CloseReason,
  closeReasonFor,
  guardHttpServer,
  httpServerFor,
  keepAcceptableDeflateOffers,
  newConnectionId,
  type RealtimeServer,
  Room,
  type RoomTransport,
  remoteAddressOf,
  reportClosed,
  resolveServerOptions,
  type ServerOptions,
  SUBPROTOCOL,
  serve,
  servedPath,
  shutdownWebSocketServer,
  wsLibraryDeflate,
} from '@socketlab/contract';
import { WebSocket, WebSocketServer } from 'ws';
import { closeCodeOfError } from './errors.js';

/**
 * Room transport over ws: the room encodes once per fan-out, ws frames. ws applies its own compression
 * threshold only without context takeover (with it, it compresses every message), so the
 * contract's threshold is applied here, per message.
 */
function transportFor(threshold: number): RoomTransport<WebSocket> {
  const compress = (bytes: number) => bytes >= threshold;
  return {
    sendText: (ws, text) => ws.send(text, { compress: compress(Buffer.byteLength(text)) }),
    sendTextToMany: (sockets, text) => {
      const data = Buffer.from(text);
      const options = { binary: false, compress: compress(data.length) };
      for (const ws of sockets) ws.send(data, options);
    },
    sendBinary: (ws, data) => ws.send(data, { binary: true, compress: compress(data.byteLength) }),
    bufferedAmount: (ws) => ws.bufferedAmount,
    dropSlowConsumer: (ws) => {
      ws.close(CloseCode.policyViolation, CloseReason.slowConsumer);
      ws.terminate();
    },
    heartbeat: {
      ping: (ws) => ws.ping(),
      terminate: (ws) => ws.terminate(),
    },
  };
}

/**
 * Calls `finished` when ws ends its side of TCP: after the closing handshake is complete (both
 * close frames exchanged), after it failed the connection (a protocol violation, an over-limit
 * message), or when the peer ended first. ws emits nothing at that point: its `close` comes
 * only when the peer's FIN arrives or its 30 s close timer destroys the socket. But ws ends the
 * TCP socket exactly then (RFC 6455 7.1.1), and the socket is ours: its public `finish` event is
 * the signal, without reading ws internals (`_closeFrameReceived`, `_closeFrameSent`).
 * The socket is then destroyed after `CLOSE_LINGER` of silence instead of ws's 30 s.
 */
function onServerEnded(socket: Socket, finished: () => void): void {
  socket.once('finish', () => {
    finished();
    socket.setTimeout(CLOSE_LINGER, () => socket.destroy());
  });
}

/**
 * ws fails a connection (a protocol violation, invalid UTF-8, a message over maxPayload) with
 * its own `close(code)` and no reason: give every close without one the reason every adapter
 * sends with that code (`closeReasonFor`). Closes that carry a reason (ours, or ws echoing the
 * peer's close) keep it. The conformance suite checks the reasons on the wire.
 */
function sendContractCloseReasons(ws: WebSocket): void {
  const close = ws.close.bind(ws);
  ws.close = (code?: number, reason?: string | Buffer) =>
    close(code, reason ?? (code === undefined ? undefined : closeReasonFor(code)));
}

/** A listening contract server on the ws library (or one attached to the app's server: `server`). */
export async function createServer(options: ServerOptions = {}): Promise<RealtimeServer> {
  const opts = resolveServerOptions(options);
  const { logger } = opts;
  const room = new Room(transportFor(opts.perMessageDeflate ? opts.perMessageDeflate.threshold : 0), opts);
  const httpServer = httpServerFor(opts);
  const attached = opts.server !== undefined;
  // ws checks what it is given; everything the contract adds is checked before (see guard).
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    // maxPayload bounds the inflated message too: ws counts inflated bytes as they come out.
    perMessageDeflate: wsLibraryDeflate(opts.perMessageDeflate),
    maxPayload: opts.maxPayload,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  /** Every upgraded socket until it closes, those already out of the room included. */
  const upgraded = new Set<Socket>();
  const guardOptions = { ...opts, attached, path: servedPath(opts, '/') };
  const handshaking = guardHttpServer(httpServer, guardOptions, (request, socket, head) => {
    // ws refuses with 400 an offer it cannot accept; the contract upgrades uncompressed.
    keepAcceptableDeflateOffers(request.headers, opts.perMessageDeflate);
    wss.handleUpgrade(request, socket, head, (ws) => {
      sendContractCloseReasons(ws);
      // Read now: a destroyed socket no longer knows its peer.
      const remoteAddress = remoteAddressOf(socket);
      const id = newConnectionId();
      upgraded.add(socket as Socket);
      socket.once('close', () => upgraded.delete(socket as Socket));
      let failedWith: number | undefined;
      ws.on('error', (error: Error & { code?: string }) => {
        failedWith ??= closeCodeOfError(error.code);
        logger.debug({ id, err: error.message }, 'connection error');
      });
      // The room is left when the closing handshake is done or the connection failed, not
      // when a peer that never sends its FIN is finally gone.
      onServerEnded(socket as Socket, () => room.remove(ws));
      ws.on('close', (code) => {
        reportClosed(opts, { id, code: failedWith ?? code, remoteAddress });
        room.remove(ws);
      });
      ws.on('pong', () => room.pong(ws));
      ws.on('message', (data, isBinary) => {
        const bytes = data as Buffer;
        if (isBinary) room.receiveBinary(ws, bytes);
        else room.receiveText(ws, bytes.toString('utf8'));
      });
      room.add(ws, id, remoteAddress);
    });
  });

  return serve({
    server: httpServer,
    scheme: 'ws',
    options: opts,
    room,
    shutdown: () =>
      shutdownWebSocketServer({
        server: httpServer,
        handshaking,
        connections: room.connections(),
        close: (ws) => ws.close(CloseCode.goingAway, CloseReason.shutdown),
        terminate: (ws) => ws.terminate(),
        closed: (ws) =>
          new Promise((resolve) =>
            ws.readyState === WebSocket.CLOSED ? resolve(undefined) : ws.once('close', resolve),
          ),
        timeoutMs: opts.shutdownTimeout,
        // Upgraded sockets still lingering after their closing handshake.
        lingering: upgraded,
        attached,
        detach: handshaking.detach,
      }),
  });
}
