/**
 * The four transports the playground can use, and where their servers are. Shared by
 * the page and the browser tests (which start each app on port 0 and pass its URL in
 * the query string), so both agree on names, apps and default ports (CONTRACT.md 6).
 */
export type TransportKey = 'net' | 'ws' | 'websocket' | 'socketio';

/** socket.io's two engine transports; the contract requires both to work. */
export type SocketIoTransport = 'websocket' | 'polling';
export const SOCKETIO_TRANSPORTS: readonly SocketIoTransport[] = ['websocket', 'polling'];

export interface TransportInfo {
  key: TransportKey;
  /** The transport's short name, as in tables. */
  name: string;
  label: string;
  /** `websocket`: the browser's own WebSocket; `socketio`: socket.io-client. */
  client: 'websocket' | 'socketio';
  /** The server app (apps/<app>) that serves this transport. */
  app: string;
  defaultPort: number;
  /** Whether the server app refuses a client offering no subprotocol unless told otherwise (CONTRACT.md 3). */
  requiresProtocol: boolean;
}

export const TRANSPORTS: readonly TransportInfo[] = [
  {
    key: 'net',
    name: 'net',
    label: 'net (RFC 6455 by hand)',
    client: 'websocket',
    app: 'net-server',
    defaultPort: 9000,
    requiresProtocol: false,
  },
  {
    key: 'ws',
    name: 'ws',
    label: 'ws',
    client: 'websocket',
    app: 'ws-server',
    defaultPort: 6080,
    requiresProtocol: false,
  },
  {
    key: 'websocket',
    name: 'websocket',
    label: 'websocket (WebSocket-Node)',
    client: 'websocket',
    app: 'websocket-server',
    defaultPort: 8080,
    requiresProtocol: true,
  },
  {
    key: 'socketio',
    name: 'socket.io',
    label: 'socket.io',
    client: 'socketio',
    app: 'socketio-server',
    defaultPort: 3000,
    requiresProtocol: false,
  },
];

export function transportInfo(key: string): TransportInfo | undefined {
  return TRANSPORTS.find((transport) => transport.key === key);
}

/** The server's URL as the servers print it: ws:// for WebSocket apps, http:// for socket.io. */
export function defaultServerUrl(transport: TransportInfo): string {
  const scheme = transport.client === 'socketio' ? 'http' : 'ws';
  return `${scheme}://127.0.0.1:${transport.defaultPort}/`;
}

/**
 * Where a transport's server is: `?ws=ws://127.0.0.1:1234/` in the page's query string
 * first, then what the page was started with (by app name), then the default port.
 */
export function serverUrlFrom(
  transport: TransportInfo,
  query: URLSearchParams,
  configured: Readonly<Record<string, string>> = {},
): string {
  return query.get(transport.key) || configured[transport.app] || defaultServerUrl(transport);
}
