import type { ConnectOptions, RealtimeClient } from './adapter.js';
import type { CloseInfo } from './close-codes.js';
import { encodeClientText } from './codec.js';
import type { Inbox } from './inbox.js';

/** The transport operations a WebSocket client is made of; everything else is shared. */
export interface WebSocketClientParts {
  protocol: string;
  inbox: Inbox;
  closed: Promise<CloseInfo>;
  sendText(text: string): void;
  sendBinary(data: Uint8Array): void;
  /** Starts the closing handshake; `closed` resolves when it ends. */
  startClose(code?: number, reason?: string): void;
  pauseReading(): void;
  terminate(): void;
}

/** A `RealtimeClient` over one WebSocket connection: JSON text out, the buffered inbox in. */
export function webSocketClient(parts: WebSocketClientParts): RealtimeClient {
  const { inbox, closed } = parts;
  return {
    protocol: parts.protocol,
    send: (message) => parts.sendText(encodeClientText(message)),
    sendText: (text) => parts.sendText(text),
    sendBinary: (data) => parts.sendBinary(data),
    receive: (type, timeoutMs) => inbox.take(type, timeoutMs),
    pending: () => inbox.pending(),
    members: inbox.members,
    closed,
    close: (code, reason) => {
      parts.startClose(code, reason);
      return closed;
    },
    pauseReading: () => parts.pauseReading(),
    terminate: () => parts.terminate(),
  };
}

/** The node:tls options of a client's `ca` and `rejectUnauthorized` (only those given). */
export function tlsClientOptions(options: ConnectOptions): {
  ca?: string | Buffer | (string | Buffer)[];
  rejectUnauthorized?: boolean;
} {
  const { ca } = options;
  return {
    ...(ca === undefined ? {} : { ca: typeof ca === 'string' || Buffer.isBuffer(ca) ? ca : [...ca] }),
    ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
  };
}
