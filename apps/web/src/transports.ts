/**
 * The transports the playground can use, and where their servers are: the rows of the
 * transport catalog (CONTRACT.md section 6, `@socketlab/contract`'s catalog.ts). Shared by
 * the page and the browser tests (which start each app on port 0 and pass its URL in the
 * query string).
 */
import { CATALOG, defaultServerUrl, type TransportEntry, type TransportKey } from '@socketlab/contract/client';

export type TransportInfo = TransportEntry & { readonly key: TransportKey };
export type { TransportKey };

/** socket.io's two engine transports; the contract requires both to work. */
export type SocketIoTransport = 'websocket' | 'polling';
export const SOCKETIO_TRANSPORTS: readonly SocketIoTransport[] = ['websocket', 'polling'];

export const TRANSPORTS: readonly TransportInfo[] = CATALOG;

export function transportInfo(key: string): TransportInfo | undefined {
  return TRANSPORTS.find((transport) => transport.key === key);
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
