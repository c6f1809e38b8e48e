import {
  type CloseInfo,
  type ConnectOptions,
  DEFAULTS,
  HandshakeError,
  Inbox,
  parseServerText,
  type RealtimeClient,
  resolvePerMessageDeflate,
  SUBPROTOCOL,
  tlsClientOptions,
  webSocketClient,
  wsLibraryDeflate,
} from '@socketlab/contract';
import { WebSocket } from 'ws';

/** A contract client on the ws library. */
export function connect(url: string, options: ConnectOptions = {}): Promise<RealtimeClient> {
  const deflate = resolvePerMessageDeflate(options.perMessageDeflate);
  // ws applies its threshold only without context takeover; the contract's applies always.
  const compress = (bytes: number) => deflate !== false && bytes >= deflate.threshold;
  const ws = new WebSocket(url, [...(options.protocols ?? [SUBPROTOCOL])], {
    perMessageDeflate: wsLibraryDeflate(options.perMessageDeflate),
    handshakeTimeout: options.timeout ?? DEFAULTS.handshakeTimeout,
    ...(options.origin === undefined ? {} : { origin: options.origin }),
    ...(options.maxPayload === undefined ? {} : { maxPayload: options.maxPayload }),
    ...tlsClientOptions(options),
  });
  const inbox = new Inbox();
  ws.on('message', (data, isBinary) => {
    const bytes = data as Buffer;
    inbox.push(isBinary ? { type: 'binary', data: new Uint8Array(bytes) } : parseServerText(bytes.toString('utf8')));
  });
  const closed = new Promise<CloseInfo>((resolve) => {
    ws.on('close', (code, reason) => {
      const info = { code, reason: reason.toString('utf8') };
      inbox.close(info);
      resolve(info);
    });
  });

  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (request, response) => {
      reject(new HandshakeError(`server refused the handshake with HTTP ${response.statusCode}`, response.statusCode));
      request.destroy();
      response.resume();
    });
    ws.on('error', (error) => reject(new HandshakeError(`connection failed: ${error.message}`)));
    ws.once('open', () => {
      resolve(
        webSocketClient({
          protocol: ws.protocol,
          inbox,
          closed,
          sendText: (text) => ws.send(text, { compress: compress(Buffer.byteLength(text)) }),
          sendBinary: (data) => ws.send(data, { binary: true, compress: compress(data.byteLength) }),
          startClose: (code, reason) => ws.close(code, reason),
          pauseReading: () => {
            // ws has no public pause; its socket does. A paused peer neither reads nor pongs.
            (ws as unknown as { _socket: { pause(): void } })._socket.pause();
          },
          terminate: () => ws.terminate(),
        }),
      );
    });
  });
}
