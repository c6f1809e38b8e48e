/**
 * What the page tells a person about a connection that ended: what happened and, where the
 * page can know why, what to do. A refused browser WebSocket only ever reports close 1006 with
 * no reason, so the page adds what it knows itself: the subprotocols it offered, the server's
 * catalog defaults, its own origin, the connect timeout.
 */
import { SUBPROTOCOL } from '@socketlab/contract/client';
import { type ConnectionEnd, describeEnd } from './connection.js';
import type { TransportInfo } from './transports.js';

export interface EndContext {
  transport: TransportInfo;
  url: string;
  /** The subprotocols the page offered (WebSocket transports). */
  protocols: readonly string[];
  /** `location.origin` of the page. */
  pageOrigin: string;
}

export interface Explanation {
  text: string;
  /** Shown in the error colour: anything but an orderly close. */
  error: boolean;
}

/** The hosts on every server's default Origin allowlist (CONTRACT.md section 3). */
const DEFAULT_ALLOWED_HOSTS = new Set(['localhost', '127.0.0.1']);

export function explainEnd(end: ConnectionEnd, context: EndContext): Explanation {
  const { transport, url } = context;
  if (end.timedOut) {
    return {
      text: `timed out: ${end.reason} from ${url}, the page gave up connecting. Check the address and port: is a ${transport.name} server running there?`,
      error: true,
    };
  }
  if (!end.neverOpened) return { text: describeEnd(end), error: !end.clean };

  if (transport.client === 'websocket' && transport.requiresProtocol && !context.protocols.includes(SUBPROTOCOL)) {
    return {
      text: `refused: the ${transport.name} server requires the ${SUBPROTOCOL} subprotocol (its default) and the page offered none. Tick "offer ${SUBPROTOCOL}" and connect again (or start the server with --no-require-protocol).`,
      error: true,
    };
  }
  const host = hostnameOf(context.pageOrigin);
  if (host !== undefined && !DEFAULT_ALLOWED_HOSTS.has(host)) {
    return {
      text: `refused or unreachable: ${url} did not accept this page. Its origin ${context.pageOrigin} is not on the servers' default allowlist (localhost, 127.0.0.1): start the server with --origin ${context.pageOrigin}, or open the page on 127.0.0.1. (${describeEnd(end)})`,
      error: true,
    };
  }
  const browserSays =
    transport.client === 'websocket'
      ? 'the browser gives no reason, only close 1006; its console may say more'
      : describeEnd(end);
  return {
    text: `refused or unreachable: could not connect to ${url} (${browserSays}). Check that a ${transport.name} server is running there.`,
    error: true,
  };
}

function hostnameOf(origin: string): string | undefined {
  try {
    return new URL(origin).hostname;
  } catch {
    return undefined;
  }
}
