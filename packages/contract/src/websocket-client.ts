import type { CloseInfo, RealtimeClient } from './adapter.js';
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
