import type { CloseInfo } from './close-codes.js';
import type { ClientMessage, ConnectionId, Incoming, IncomingOfType } from './messages.js';
import type { PerMessageDeflateOptions, ServerOptions, TlsOptions } from './options.js';

/**
 * What a transport can express. The conformance suite picks its groups from these,
 * never from an adapter's name.
 */
export interface Capabilities {
  /** Speaks RFC 6455 on the wire: raw handshake, frame and close-code groups apply. */
  websocketProtocol: boolean;
  /** Top-level binary messages; socket.io carries binary inside payloads instead. */
  binaryMessages: boolean;
  /** Binary inside a payload comes back as binary (socket.io); JSON text cannot carry it. */
  binaryPayloads: boolean;
  /** How malformed requests are sent: raw text frames (WebSocket) or events (socket.io). */
  requestForm: 'text' | 'event';
  /** The client sees close codes; socket.io only sees a disconnect with a reason. */
  closeCodes: boolean;
  /** Can negotiate permessage-deflate (RFC 7692) when `perMessageDeflate` is set; WebSocket-Node cannot. */
  compression: boolean;
}

/** What every RFC 6455 adapter (net, ws, websocket) can express. */
export const WEBSOCKET_CAPABILITIES: Capabilities = {
  websocketProtocol: true,
  binaryMessages: true,
  binaryPayloads: false,
  requestForm: 'text',
  closeCodes: true,
  compression: true,
};

export interface ServerStats {
  connections: number;
  /** The most bytes any one connection had queued: stays near the outbound limit. */
  peakBufferedBytes: number;
}

export interface RealtimeServer {
  /** The URL clients connect to (ws:// or wss:// for WebSocket adapters, http:// or https:// for socket.io). */
  readonly url: string;
  readonly port: number;
  readonly connectionCount: number;
  stats(): ServerStats;
  /**
   * Replaces the certificate and key (SIGHUP in the apps): new handshakes use the new pair,
   * open connections go on. Throws on a server without `tls` or attached to an app's server.
   */
  reloadTls(tls: TlsOptions): void;
  /** 1001 to every client, at most the shutdown timeout for the handshakes, then stop. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Subprotocols to offer; default `['echo-protocol']`, `[]` offers none. */
  protocols?: readonly string[];
  /** Sent as the `Origin` header; default none (not a browser). */
  origin?: string;
  /** socket.io only: which transport to use. */
  transport?: 'websocket' | 'polling';
  /** Handshake timeout in ms. */
  timeout?: number;
  /** Largest incoming message the client accepts. */
  maxPayload?: number;
  /** Offer permessage-deflate (RFC 7692); default off. Adapters without compression ignore it. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** wss:// and https://: the certificate authorities to trust instead of the system's. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** `false` accepts any certificate: an explicit opt-out of verification, never the default. */
  rejectUnauthorized?: boolean;
}

export interface RealtimeClient {
  /** The negotiated subprotocol, '' when none. */
  readonly protocol: string;
  send(message: ClientMessage): void;
  /** WebSocket adapters: one text frame with exactly this text. */
  sendText?(text: string): void;
  /** socket.io: one event with these arguments, unchecked. */
  emit?(event: string, ...args: unknown[]): void;
  sendBinary(data: Uint8Array): void;
  /** The next message (of this type, if given) in arrival order; buffered, never lost. */
  receive<T extends Incoming['type'] = Incoming['type']>(type?: T, timeoutMs?: number): Promise<IncomingOfType<T>>;
  /** Received and not yet taken. */
  pending(): readonly Incoming[];
  /**
   * Who else is in the room, as this client was told: `welcome`'s members, then each `join`
   * and `leave` as it arrives (taken or not). Live: it changes as messages arrive.
   */
  readonly members: ReadonlySet<ConnectionId>;
  /** Resolves once with how the connection ended. */
  readonly closed: Promise<CloseInfo>;
  close(code?: number, reason?: string): Promise<CloseInfo>;
  /** Stops reading from the network: the peer looks dead or slow to the server. */
  pauseReading(): void;
  terminate(): void;
}

/** A refused or failed handshake; `status` is the HTTP status when the server answered. */
export class HandshakeError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}

/**
 * An adapter's start-up check found a private library internal it relies on missing or
 * changed (a library upgrade moved it); the message names it and what depends on it.
 */
export class LibraryInternalsError extends Error {
  override readonly name = 'LibraryInternalsError';
}

export interface Adapter {
  /** The adapter's key in the transport catalog (`catalog.ts`): its app, port and label are there. */
  readonly name: string;
  readonly capabilities: Capabilities;
  /** Where its server's defaults differ from the contract's (websocket: `requireProtocol`). */
  readonly defaults?: Partial<ServerOptions>;
  createServer(options?: ServerOptions): Promise<RealtimeServer>;
  connect(url: string, options?: ConnectOptions): Promise<RealtimeClient>;
}
