/**
 * The transports of CONTRACT.md section 6, written once: every server app, the playground,
 * the benchmark, the interop matrix and the scale-out tests derive their lists from this
 * table, and one guard test (packages/interop/test/catalog.test.ts) fails when one of them
 * does not cover every row. Browser-safe: no Node.js import, so the page reads it too.
 */
export interface TransportEntry {
  /** The adapter's `name`, and the transport's key in the page's query string. */
  readonly key: string;
  /** Its short name, as in tables. */
  readonly name: string;
  /** What the page's picker shows. */
  readonly label: string;
  /** What it is, for the benchmark's legend. */
  readonly description: string;
  /** The adapter package (`import { createServer, connect } from ...`). */
  readonly package: string;
  /** The server app, `apps/<app>`, started by `pnpm --filter <app> start`. */
  readonly app: string;
  readonly defaultPort: number;
  /** `websocket`: any RFC 6455 client (the browser's own); `socketio`: socket.io-client. */
  readonly client: 'websocket' | 'socketio';
  /** The server refuses a client that offers no subprotocol unless told otherwise (section 3). */
  readonly requiresProtocol: boolean;
  /** A session spans several HTTP requests (long-polling): with --workers, requests go to their session's worker. */
  readonly stickySessions: boolean;
  /** Negotiates permessage-deflate when started with --per-message-deflate (its adapter's `capabilities.compression`). */
  readonly compression: boolean;
}

export const CATALOG = [
  {
    key: 'net',
    name: 'net',
    label: 'net (RFC 6455 by hand)',
    description: 'RFC 6455 by hand on node:net',
    package: '@socketlab/net',
    app: 'net-server',
    defaultPort: 9000,
    client: 'websocket',
    requiresProtocol: false,
    stickySessions: false,
    compression: true,
  },
  {
    key: 'ws',
    name: 'ws',
    label: 'ws',
    description: 'the ws library',
    package: '@socketlab/ws',
    app: 'ws-server',
    defaultPort: 6080,
    client: 'websocket',
    requiresProtocol: false,
    stickySessions: false,
    compression: true,
  },
  {
    key: 'websocket',
    name: 'websocket',
    label: 'websocket (WebSocket-Node)',
    description: 'WebSocket-Node',
    package: '@socketlab/websocket',
    app: 'websocket-server',
    defaultPort: 8080,
    client: 'websocket',
    requiresProtocol: true,
    stickySessions: false,
    compression: false,
  },
  {
    key: 'socketio',
    name: 'socket.io',
    label: 'socket.io',
    description: 'socket.io',
    package: '@socketlab/socketio',
    app: 'socketio-server',
    defaultPort: 3000,
    client: 'socketio',
    requiresProtocol: false,
    stickySessions: true,
    compression: true,
  },
] as const satisfies readonly TransportEntry[];

export type TransportKey = (typeof CATALOG)[number]['key'];

/** The catalog row of an adapter or key; throws naming the catalog when there is none. */
export function catalogEntry(key: string): TransportEntry {
  const entry = CATALOG.find((candidate) => candidate.key === key);
  if (!entry) {
    throw new Error(`no transport "${key}" in the catalog (packages/contract/src/catalog.ts): add its row there`);
  }
  return entry;
}

/** The URL a server app prints on its default port: ws:// for WebSocket apps, http:// for socket.io. */
export function defaultServerUrl(entry: TransportEntry, host = '127.0.0.1'): string {
  return `${entry.client === 'socketio' ? 'http' : 'ws'}://${host}:${entry.defaultPort}/`;
}
