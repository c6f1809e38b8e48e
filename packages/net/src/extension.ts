/*
 * The Sec-WebSocket-Extensions header (RFC 6455 section 9.1), parsed and formatted by hand:
 *
 *   extension-list = 1#extension
 *   extension      = extension-token *( ";" extension-param )
 *   extension-param = token [ "=" ( token | quoted-string ) ]
 *
 * (a quoted value, once unescaped, must itself be a token). Offers are kept in order, with
 * every parameter as it came, duplicates included: what to make of them is the extension's
 * business (permessage-deflate.ts), not the parser's.
 */

/** One extension of the list: its name and its parameters in order; a bare parameter is `true`. */
export interface ExtensionOffer {
  name: string;
  params: [name: string, value: string | true][];
}

export type ParsedExtensions = { ok: true; offers: ExtensionOffer[] } | { ok: false; reason: string };

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses a Sec-WebSocket-Extensions value (repeated headers joined with ", "). */
export function parseExtensions(header: string): ParsedExtensions {
  const offers: ExtensionOffer[] = [];
  let at = 0;
  const length = header.length;
  const skipSpace = (): void => {
    while (at < length && (header[at] === ' ' || header[at] === '\t')) at++;
  };
  const token = (): string => {
    const start = at;
    while (at < length && TOKEN_CHAR.test(header[at]!)) at++;
    return header.slice(start, at);
  };
  for (;;) {
    skipSpace();
    // Empty list elements (", ,") are allowed by the #rule and ignored.
    if (header[at] === ',') {
      at++;
      continue;
    }
    if (at >= length) break;
    const name = token();
    if (name === '') return { ok: false, reason: `expected an extension name at ${at}` };
    const offer: ExtensionOffer = { name: name.toLowerCase(), params: [] };
    skipSpace();
    while (header[at] === ';') {
      at++;
      skipSpace();
      const param = token();
      if (param === '') return { ok: false, reason: `expected a parameter name at ${at}` };
      skipSpace();
      let value: string | true = true;
      if (header[at] === '=') {
        at++;
        skipSpace();
        if (header[at] === '"') {
          at++;
          let text = '';
          while (at < length && header[at] !== '"') {
            if (header[at] === '\\') at++;
            if (at < length) text += header[at++];
          }
          if (header[at] !== '"') return { ok: false, reason: 'unterminated quoted string' };
          at++;
          if (!TOKEN.test(text)) return { ok: false, reason: `quoted value is not a token: "${text}"` };
          value = text;
        } else {
          value = token();
          if (value === '') return { ok: false, reason: `expected a value for ${param}` };
        }
        skipSpace();
      }
      offer.params.push([param.toLowerCase(), value]);
    }
    offers.push(offer);
    if (at >= length) break;
    if (header[at] !== ',') return { ok: false, reason: `unexpected character ${JSON.stringify(header[at])} at ${at}` };
    at++;
  }
  if (offers.length === 0) return { ok: false, reason: 'no extension in the header' };
  return { ok: true, offers };
}

/** Formats one extension with its parameters: `name; a; b=1`. */
export function formatExtension(offer: ExtensionOffer): string {
  return [offer.name, ...offer.params.map(([name, value]) => (value === true ? name : `${name}=${value}`))].join('; ');
}
