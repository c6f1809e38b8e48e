import {
  CloseCode,
  type CloseInfo,
  type ConnectOptions,
  DEFAULTS,
  HandshakeError,
  Inbox,
  parseServerText,
  type RealtimeClient,
  SUBPROTOCOL,
  tlsClientOptions,
  webSocketClient,
} from '@socketlab/contract';
import websocket from 'websocket';
import { checkConnectionInternals, closeCodeOf, interceptFrames } from './internals.js';

const CLOSE_OPCODE = 0x08;

/** A contract client on WebSocket-Node's WebSocketClient. */
export function connect(url: string, options: ConnectOptions = {}): Promise<RealtimeClient> {
  const client = new websocket.client({
    tlsOptions: tlsClientOptions(options),
    ...(options.maxPayload === undefined
      ? {}
      : { maxReceivedFrameSize: options.maxPayload, maxReceivedMessageSize: options.maxPayload }),
  });
  const timeoutMs = options.timeout ?? DEFAULTS.handshakeTimeout;

  return new Promise((resolve, reject) => {
    // WebSocketClient has no handshake timeout of its own.
    const timer = setTimeout(() => {
      client.abort();
      reject(new HandshakeError(`no handshake answer within ${timeoutMs} ms`));
    }, timeoutMs);
    // With a listener here the library hands over any non-101 answer instead of a bare error text.
    client.on('httpResponse', (response) => {
      clearTimeout(timer);
      response.resume();
      const status = response.statusCode;
      reject(new HandshakeError(`server refused the handshake with HTTP ${status}`, status));
    });
    client.on('connectFailed', (error) => {
      clearTimeout(timer);
      reject(new HandshakeError(`connection failed: ${error.message}`));
    });
    client.on('connect', (connection) => {
      clearTimeout(timer);
      try {
        // Fails naming the WebSocket-Node internal an upgrade moved (see internals.ts).
        checkConnectionInternals(connection, 'client');
      } catch (error) {
        connection.drop(CloseCode.internalError, 'library internals missing', true);
        reject(error);
        return;
      }
      resolve(wrap(connection));
    });
    client.connect(url, [...(options.protocols ?? [SUBPROTOCOL])], options.origin);
  });
}

function wrap(connection: websocket.connection): RealtimeClient {
  const inbox = new Inbox();
  connection.on('message', (message) => {
    inbox.push(
      message.type === 'utf8'
        ? parseServerText(message.utf8Data)
        : { type: 'binary', data: new Uint8Array(message.binaryData) },
    );
  });
  // The library reports 1006 when the socket errors (a reset) after the server's close
  // frame arrived, overwriting the code it read: keep the code that was on the wire.
  let received: CloseInfo | undefined;
  interceptFrames(connection, (frame, next) => {
    if (frame.opcode === CLOSE_OPCODE && received === undefined) {
      received = { code: closeCodeOf(frame) ?? CloseCode.noStatus, reason: frame.binaryPayload.toString('utf8') };
    }
    next(frame);
  });
  const closed = new Promise<CloseInfo>((resolve) => {
    connection.once('close', (code, description) => {
      const info = received ?? { code, reason: description ?? '' };
      inbox.close(info);
      resolve(info);
    });
  });

  return webSocketClient({
    protocol: connection.protocol ?? '',
    inbox,
    closed,
    sendText: (text) => connection.sendUTF(text),
    sendBinary: (data) => connection.sendBytes(Buffer.from(data.buffer, data.byteOffset, data.byteLength)),
    startClose: (code, reason) => connection.close(code, reason),
    // A paused socket neither reads messages nor answers pings: a dead or slow peer to the server.
    pauseReading: () => connection.socket.pause(),
    terminate: () => connection.drop(CloseCode.abnormal, 'terminated', true),
  });
}
