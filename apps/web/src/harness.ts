/**
 * The page's automation hook: `window.socketlab`. The browser tests drive the contract
 * through it, so every check runs in the page on the browser's own WebSocket (or
 * socket.io-client), with the same connection code the chat UI uses.
 */
import type { Incoming } from '@socketlab/contract/client';
import { type Connection, type ConnectSpec, openConnection } from './connection.js';
import { type SocketIoTransport, serverUrlFrom, type TransportKey, transportInfo } from './transports.js';

export interface HarnessConnectSpec {
  transport: TransportKey;
  /** Default: the page's URL for that transport (query string or default port). */
  url?: string;
  protocols?: string[];
  socketioTransport?: SocketIoTransport;
}

/** What a binary round trip saw, checked in the page so megabytes never cross into the test. */
export interface BinaryRoundTrip {
  sent: number;
  received: number;
  identical: boolean;
  /** How the bytes came back: a binary message (WebSocket) or an echo payload (socket.io). */
  as: 'binary' | 'echo';
}

export interface Harness {
  connect(spec: HarnessConnectSpec): Connection;
  /** The next message of that type, with any bytes turned into plain arrays for the test. */
  receive(connection: Connection, type?: Incoming['type'], timeoutMs?: number): Promise<unknown>;
  /** Sends `size` random bytes as binary and compares what comes back. */
  binaryRoundTrip(connection: Connection, size: number): Promise<BinaryRoundTrip>;
}

declare global {
  interface Window {
    socketlab: Harness;
  }
}

export function installHarness(): void {
  window.socketlab = {
    connect(spec) {
      const transport = transportInfo(spec.transport);
      if (!transport) throw new Error(`unknown transport ${spec.transport}`);
      const connectSpec: ConnectSpec = {
        transport,
        url: spec.url ?? serverUrlFrom(transport, new URLSearchParams(location.search), __SOCKETLAB_SERVERS__),
        buffered: true,
      };
      if (spec.protocols) connectSpec.protocols = spec.protocols;
      if (spec.socketioTransport) connectSpec.socketioTransport = spec.socketioTransport;
      return openConnection(connectSpec);
    },
    async receive(connection, type, timeoutMs) {
      return plain(await connection.receive(type, timeoutMs));
    },
    async binaryRoundTrip(connection, size) {
      const bytes = randomBytes(size);
      connection.sendBinary(bytes);
      const socketio = connection.spec.transport.client === 'socketio';
      const reply = await connection.receive(socketio ? 'echo' : 'binary', 10_000);
      const received = reply.type === 'binary' ? reply.data : bytesOf(reply.payload);
      return {
        sent: size,
        received: received?.byteLength ?? -1,
        identical: received !== undefined && equalBytes(bytes, received),
        as: reply.type === 'binary' ? 'binary' : 'echo',
      };
    },
  };
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 64 KiB per call.
  for (let offset = 0; offset < size; offset += 65_536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65_536)));
  }
  return bytes;
}

function bytesOf(value: unknown): Uint8Array | undefined {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Structured-clone-safe for the test: bytes become `{ bytes: number[] }`. */
function plain(value: unknown): unknown {
  const bytes = bytesOf(value);
  if (bytes) return { bytes: Array.from(bytes) };
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, plain(entry)]));
  }
  return value;
}
