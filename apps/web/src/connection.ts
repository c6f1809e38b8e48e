/**
 * One client connection of the page, over either the browser's own WebSocket (net, ws,
 * websocket servers) or socket.io-client (socketio server), turned into the contract's
 * incoming messages. The chat UI and the test harness both use it, so the browser tests
 * exercise the very code the playground runs.
 */
import {
  type ClientMessage,
  Inbox,
  type Incoming,
  type IncomingOfType,
  parseServerText,
  SUBPROTOCOL,
} from '@socketlab/contract/client';
import { io, type Socket } from 'socket.io-client';
import type { SocketIoTransport, TransportInfo } from './transports.js';

export type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

/** How a connection ended. socket.io has no close codes, only a reason text. */
export interface ConnectionEnd {
  /** The WebSocket close code (1006 when the browser saw no close frame); null for socket.io. */
  code: number | null;
  reason: string;
  /** Whether the closing handshake completed (WebSocket) or the disconnect was orderly (socket.io). */
  clean: boolean;
  /** Whether the connection ended before it ever opened (a refused handshake). */
  neverOpened: boolean;
  /** Whether the page gave up: nothing answered within the connect timeout. */
  timedOut: boolean;
}

/**
 * How long a connection may stay `connecting`. The browser's WebSocket has no handshake
 * timeout of its own: a server that accepts the TCP connection and never answers the upgrade
 * would leave it connecting for good.
 */
export const CONNECT_TIMEOUT_MS = 10_000;

export type ConnectionEvent = { kind: 'state'; state: ConnectionState } | { kind: 'message'; message: Incoming };

export interface ConnectSpec {
  transport: TransportInfo;
  url: string;
  /** WebSocket transports: the subprotocols to offer; default `['echo-protocol']`, `[]` offers none. */
  protocols?: readonly string[];
  /** socket.io only: the engine transport to use, never upgraded. */
  socketioTransport?: SocketIoTransport;
  /** Queue every message for `receive` (the test harness); the UI only subscribes. */
  buffered?: boolean;
  /** Give up connecting after this long; default CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
}

export interface Connection {
  readonly spec: ConnectSpec;
  readonly state: ConnectionState;
  /** WebSocket: the negotiated subprotocol ('' for none); socket.io: the engine transport in use. */
  readonly protocol: string;
  /** The extensions the server accepted ('permessage-deflate; ...' or ''); socket.io: those of its websocket transport. */
  readonly extensions: string;
  /** Resolves when open; rejects with the end if the connection ended first. */
  readonly opened: Promise<void>;
  readonly closed: Promise<ConnectionEnd>;
  subscribe(listener: (event: ConnectionEvent) => void): () => void;
  /** The next message (of this type), in arrival order. Needs `buffered`. */
  receive<T extends Incoming['type'] = Incoming['type']>(type?: T, timeoutMs?: number): Promise<IncomingOfType<T>>;
  send(message: ClientMessage): void;
  /** WebSocket transports: one text frame with exactly this text. */
  sendText(text: string): void;
  /** socket.io: one event with these arguments, unchecked. */
  emit(event: string, ...args: unknown[]): void;
  /** WebSocket: one binary message; socket.io: an echo whose payload is these bytes. */
  sendBinary(bytes: Uint8Array): void;
  close(): void;
}

export class ConnectionEndedError extends Error {
  constructor(readonly end: ConnectionEnd) {
    super(`connection ended before it opened: ${describeEnd(end)}`);
    this.name = 'ConnectionEndedError';
  }
}

export function openConnection(spec: ConnectSpec): Connection {
  return spec.transport.client === 'socketio' ? new SocketIoConnection(spec) : new WebSocketConnection(spec);
}

/** The RFC 6455 meaning of a close code, for the status line. */
export function closeCodeMeaning(code: number): string {
  return CLOSE_CODE_MEANINGS[code] ?? (code >= 4000 ? 'application code' : 'unknown');
}

const CLOSE_CODE_MEANINGS: Record<number, string> = {
  1000: 'normal closure',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status code',
  1006: 'abnormal closure: no close frame (refused or lost)',
  1007: 'invalid payload data',
  1008: 'policy violation',
  1009: 'message too big',
  1011: 'internal error',
};

export function describeEnd(end: ConnectionEnd): string {
  if (end.timedOut) return end.reason;
  const reason = end.reason ? `: ${end.reason}` : '';
  if (end.code === null) return `disconnected${reason}`;
  return `closed ${end.code} (${closeCodeMeaning(end.code)})${reason}`;
}

abstract class BaseConnection implements Connection {
  state: ConnectionState = 'connecting';
  private wasOpen = false;
  readonly opened: Promise<void>;
  readonly closed: Promise<ConnectionEnd>;
  private readonly listeners = new Set<(event: ConnectionEvent) => void>();
  private readonly inbox: Inbox | undefined;
  private settleOpened!: { resolve(): void; reject(error: Error): void };
  private settleClosed!: (end: ConnectionEnd) => void;

  constructor(readonly spec: ConnectSpec) {
    this.inbox = spec.buffered ? new Inbox() : undefined;
    this.opened = new Promise((resolve, reject) => (this.settleOpened = { resolve, reject }));
    // Nobody may be waiting on `opened` (the UI listens to states): never an unhandled rejection.
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => (this.settleClosed = resolve));
    const timeoutMs = spec.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => {
      if (this.state !== 'connecting') return;
      this.end({
        code: spec.transport.client === 'socketio' ? null : 1006,
        reason: `no answer within ${timeoutMs / 1000} s`,
        clean: false,
        timedOut: true,
      });
      this.abandon();
    }, timeoutMs);
    this.closed.then(() => clearTimeout(timer));
    this.opened.then(
      () => clearTimeout(timer),
      () => {},
    );
  }

  abstract readonly protocol: string;
  abstract readonly extensions: string;
  abstract send(message: ClientMessage): void;
  abstract sendText(text: string): void;
  abstract emit(event: string, ...args: unknown[]): void;
  abstract sendBinary(bytes: Uint8Array): void;
  abstract close(): void;
  /** Drops the underlying socket of a connection already ended (the connect timeout). */
  protected abstract abandon(): void;

  subscribe(listener: (event: ConnectionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  receive<T extends Incoming['type'] = Incoming['type']>(type?: T, timeoutMs?: number): Promise<IncomingOfType<T>> {
    if (!this.inbox) return Promise.reject(new Error('receive needs a buffered connection'));
    return this.inbox.take(type, timeoutMs);
  }

  protected setState(state: ConnectionState): void {
    if (this.state === state || this.state === 'closed') return;
    this.state = state;
    if (state === 'open') {
      this.wasOpen = true;
      this.settleOpened.resolve();
    }
    this.notify({ kind: 'state', state });
  }

  protected deliver(message: Incoming): void {
    this.inbox?.push(message);
    this.notify({ kind: 'message', message });
  }

  protected end(end: Omit<ConnectionEnd, 'neverOpened' | 'timedOut'> & { timedOut?: boolean }): void {
    if (this.state === 'closed') return;
    // Closed by us while still connecting (state 'closing') counts as never opened too.
    const neverOpened = !this.wasOpen;
    const full: ConnectionEnd = { ...end, neverOpened, timedOut: end.timedOut ?? false };
    this.setState('closed');
    this.inbox?.close({ code: end.code ?? 0, reason: end.reason });
    this.settleOpened.reject(new ConnectionEndedError(full));
    this.settleClosed(full);
  }

  private notify(event: ConnectionEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

class WebSocketConnection extends BaseConnection {
  private readonly socket: WebSocket;

  constructor(spec: ConnectSpec) {
    super(spec);
    const protocols = [...(spec.protocols ?? [SUBPROTOCOL])];
    this.socket = new WebSocket(spec.url, protocols);
    // Binary messages as ArrayBuffer: bytes are compared, never read as a Blob stream.
    this.socket.binaryType = 'arraybuffer';
    this.socket.addEventListener('open', () => this.setState('open'));
    this.socket.addEventListener('message', (event: MessageEvent<string | ArrayBuffer>) => {
      this.deliver(
        typeof event.data === 'string'
          ? parseServerText(event.data)
          : { type: 'binary', data: new Uint8Array(event.data) },
      );
    });
    this.socket.addEventListener('close', (event) => {
      this.end({ code: event.code, reason: event.reason, clean: event.wasClean });
    });
  }

  get protocol(): string {
    return this.socket.protocol;
  }

  get extensions(): string {
    return this.socket.extensions;
  }

  send(message: ClientMessage): void {
    this.socket.send(JSON.stringify(message));
  }

  sendText(text: string): void {
    this.socket.send(text);
  }

  emit(): void {
    throw new Error('emit is for socket.io connections; WebSocket transports send text frames');
  }

  sendBinary(bytes: Uint8Array): void {
    this.socket.send(bytes);
  }

  close(): void {
    if (this.state === 'closed') return;
    this.setState('closing');
    this.socket.close(1000);
  }

  protected abandon(): void {
    // Closing a WebSocket that is still connecting fails the connection: no frame is sent.
    this.socket.close();
  }
}

/** The socket.io events of CONTRACT.md section 2 that a client receives. */
const SOCKETIO_EVENTS = new Set<string>(['welcome', 'join', 'leave', 'echo', 'broadcast', 'broadcastResult', 'error']);

class SocketIoConnection extends BaseConnection {
  private readonly socket: Socket;

  constructor(spec: ConnectSpec) {
    super(spec);
    this.socket = io(spec.url, {
      transports: [spec.socketioTransport ?? 'websocket'],
      // One attempt: a refusal must show as a refusal, not as an endless retry loop.
      reconnection: false,
      forceNew: true,
      // The connection's own timeout (the same for every transport) gives up first.
      timeout: (spec.connectTimeoutMs ?? CONNECT_TIMEOUT_MS) + 5_000,
    });
    this.socket.on('connect', () => this.setState('open'));
    this.socket.on('connect_error', (error: Error) => {
      this.end({ code: null, reason: `connect_error: ${error.message}`, clean: false });
    });
    this.socket.on('disconnect', (reason: string) => {
      this.end({ code: null, reason, clean: reason === 'io client disconnect' || reason === 'io server disconnect' });
    });
    this.socket.onAny((event: string, argument: unknown) => {
      if (!SOCKETIO_EVENTS.has(event)) {
        this.deliver({ type: 'unparsed', text: `unexpected event ${event}` });
        return;
      }
      // The event name is the type, the single argument the rest of the message (section 2).
      const rest = typeof argument === 'object' && argument !== null ? argument : { value: argument };
      this.deliver({ ...rest, type: event } as Incoming);
    });
  }

  get protocol(): string {
    return this.socket.io.engine?.transport?.name ?? '';
  }

  get extensions(): string {
    // engine.io-client keeps the browser's WebSocket in its websocket transport's `ws`; polling has none.
    const transport = this.socket.io.engine?.transport as { ws?: WebSocket } | undefined;
    return transport?.ws?.extensions ?? '';
  }

  send(message: ClientMessage): void {
    const { type, ...rest } = message;
    this.socket.emit(type, rest);
  }

  sendText(): void {
    throw new Error('sendText is for WebSocket transports; socket.io connections emit events');
  }

  emit(event: string, ...args: unknown[]): void {
    this.socket.emit(event, ...args);
  }

  sendBinary(bytes: Uint8Array): void {
    this.socket.emit('echo', { payload: bytes });
  }

  close(): void {
    if (this.state === 'closed') return;
    this.setState('closing');
    this.socket.disconnect();
  }

  protected abandon(): void {
    this.socket.disconnect();
  }
}
