import { createServer as createHttpServer } from 'node:http';
import {
  CloseCode,
  CloseReason,
  closeAllGracefully,
  DEFAULTS,
  encodeServerText,
  guardHttpServer,
  Heartbeat,
  listen,
  type RealtimeServer,
  Room,
  type RoomTransport,
  realtimeServer,
  resolveServerOptions,
  type ServerOptions,
  SUBPROTOCOL,
  serverUrl,
} from '@socketlab/contract';
import { WebSocket, WebSocketServer } from 'ws';

/** Room transport over ws: encode once per fan-out, let ws frame. */
const transport: RoomTransport<WebSocket> = {
  send: (ws, message) => ws.send(encodeServerText(message)),
  sendToMany: (sockets, message) => {
    const data = Buffer.from(encodeServerText(message));
    for (const ws of sockets) ws.send(data, { binary: false });
  },
  sendBinary: (ws, data) => ws.send(data, { binary: true }),
  bufferedAmount: (ws) => ws.bufferedAmount,
  dropSlowConsumer: (ws) => {
    ws.close(CloseCode.policyViolation, CloseReason.slowConsumer);
    ws.terminate();
  },
};

/** A listening contract server on the ws library. */
export async function createServer(options: ServerOptions = {}): Promise<RealtimeServer> {
  const opts = resolveServerOptions(options);
  const { logger } = opts;
  const room = new Room(transport, { outboundLimit: opts.outboundLimit, bus: opts.bus, logger });
  const heartbeat = new Heartbeat<WebSocket>(opts.heartbeatInterval, {
    ping: (ws) => ws.ping(),
    terminate: (ws) => {
      logger.info({ id: room.idOf(ws) }, 'heartbeat timeout: terminating');
      ws.terminate();
    },
  });
  const httpServer = createHttpServer({ maxHeaderSize: DEFAULTS.maxHeadSize });
  // ws checks what it is given; everything the contract adds is checked before (see guard).
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: opts.maxPayload,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  const handshaking = guardHttpServer(httpServer, opts, (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', (error) => logger.debug({ id: room.idOf(ws), err: error.message }, 'connection error'));
      ws.on('close', (code) => {
        heartbeat.untrack(ws);
        logger.debug({ id: room.idOf(ws), code }, 'connection closed');
        room.remove(ws);
      });
      ws.on('pong', () => heartbeat.alive(ws));
      ws.on('message', (data, isBinary) => {
        heartbeat.alive(ws);
        const bytes = data as Buffer;
        if (isBinary) room.receiveBinary(ws, bytes);
        else room.receiveText(ws, bytes.toString('utf8'));
      });
      heartbeat.track(ws);
      room.add(ws);
    });
  });

  const port = await listen(httpServer, opts.port, opts.host);
  heartbeat.start();
  return realtimeServer({
    url: serverUrl('ws', opts.host, port),
    port,
    room,
    logger,
    shutdown: async () => {
      const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      heartbeat.stop();
      for (const socket of handshaking) socket.destroy();
      await closeAllGracefully(
        room.connections(),
        {
          close: (ws) => ws.close(CloseCode.goingAway, CloseReason.shutdown),
          terminate: (ws) => ws.terminate(),
          closed: (ws) =>
            new Promise((resolve) =>
              ws.readyState === WebSocket.CLOSED ? resolve(undefined) : ws.once('close', resolve),
            ),
        },
        opts.shutdownTimeout,
      );
      httpServer.closeAllConnections();
      await stopped;
    },
  });
}
