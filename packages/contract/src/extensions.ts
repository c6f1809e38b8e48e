import type { ResolvedServerOptions } from './options.js';

/** One extension of a `Sec-WebSocket-Extensions` header: its name and parameters in order (`true`: no value). */
export interface ExtensionOffer {
  name: string;
  params: [name: string, value: string | true][];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;
const DEFLATE = 'permessage-deflate';

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 section 9.1: extensions separated by
 * commas, parameters by semicolons, values as tokens or quoted strings), or undefined when it
 * does not follow that grammar.
 */
export function parseExtensionHeader(header: string): ExtensionOffer[] | undefined {
  const offers: ExtensionOffer[] = [];
  let rest = header;
  const skipSpace = (): void => {
    rest = rest.replace(/^[ \t]+/, '');
  };
  const token = (): string | undefined => {
    skipSpace();
    const match = TOKEN.exec(rest);
    if (!match) return undefined;
    rest = rest.slice(match[0].length);
    return match[0];
  };
  const quoted = (): string | undefined => {
    const match = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
    if (!match) return undefined;
    rest = rest.slice(match[0].length);
    return (match[1] as string).replace(/\\(.)/g, '$1');
  };
  for (;;) {
    const name = token();
    if (name === undefined) return undefined;
    const offer: ExtensionOffer = { name: name.toLowerCase(), params: [] };
    offers.push(offer);
    for (;;) {
      skipSpace();
      if (!rest.startsWith(';')) break;
      rest = rest.slice(1);
      const param = token();
      if (param === undefined) return undefined;
      skipSpace();
      let value: string | true = true;
      if (rest.startsWith('=')) {
        rest = rest.slice(1);
        skipSpace();
        const parsed = rest.startsWith('"') ? quoted() : token();
        if (parsed === undefined) return undefined;
        value = parsed;
      }
      offer.params.push([param.toLowerCase(), value]);
    }
    skipSpace();
    if (rest === '') return offers;
    if (!rest.startsWith(',')) return undefined;
    rest = rest.slice(1);
  }
}

/**
 * Whether a server with these permessage-deflate settings can accept this offer (RFC 7692
 * section 7): only the four parameters, each at most once, with valid values, and window
 * limits the server's own settings fit in.
 */
export function canAcceptDeflateOffer(
  offer: ExtensionOffer,
  deflate: Exclude<ResolvedServerOptions['perMessageDeflate'], false>,
): boolean {
  if (offer.name !== DEFLATE) return false;
  const seen = new Map<string, string | true>();
  for (const [name, value] of offer.params) {
    if (seen.has(name)) return false;
    seen.set(name, value);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return false;
        break;
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS.test(value)) return false;
        // The server must compress within the offered window; a smaller one than ours is declined.
        if (Number(value) < deflate.serverMaxWindowBits && deflate.serverMaxWindowBits < 15) return false;
        break;
      case 'client_max_window_bits':
        if (value !== true && !WINDOW_BITS.test(value)) return false;
        break;
      default:
        return false;
    }
  }
  if (deflate.clientMaxWindowBits < 15) {
    // Limiting the client's window needs its consent: the parameter in its offer.
    const offered = seen.get('client_max_window_bits');
    if (offered === undefined) return false;
    if (offered !== true && Number(offered) < deflate.clientMaxWindowBits) return false;
  }
  return true;
}

/**
 * The `Sec-WebSocket-Extensions` value to hand the ws library (ws adapter, engine.io): only the
 * permessage-deflate offers this server can accept, in the client's order, or undefined for
 * none (the upgrade then goes on uncompressed). ws answers an offer it cannot parse or accept
 * with HTTP 400, where CONTRACT.md section 3 wants an uncompressed upgrade.
 */
export function acceptableDeflateOffers(
  header: string | undefined,
  deflate: ResolvedServerOptions['perMessageDeflate'],
): string | undefined {
  if (header === undefined || deflate === false) return undefined;
  const offers = parseExtensionHeader(header);
  if (!offers) return undefined;
  const kept = offers.filter((offer) => canAcceptDeflateOffer(offer, deflate));
  if (kept.length === 0) return undefined;
  return kept
    .map((offer) => [offer.name, ...offer.params.map(([name, value]) => (value === true ? name : `${name}=${value}`))])
    .map((parts) => parts.join('; '))
    .join(', ');
}

/** Rewrites an upgrade request's `Sec-WebSocket-Extensions` to what `acceptableDeflateOffers` keeps. */
export function keepAcceptableDeflateOffers(
  headers: Record<string, string | string[] | undefined>,
  deflate: ResolvedServerOptions['perMessageDeflate'],
): void {
  const raw = headers['sec-websocket-extensions'];
  const header = Array.isArray(raw) ? raw.join(', ') : raw;
  const kept = acceptableDeflateOffers(header, deflate);
  if (kept === undefined) delete headers['sec-websocket-extensions'];
  else headers['sec-websocket-extensions'] = kept;
}
