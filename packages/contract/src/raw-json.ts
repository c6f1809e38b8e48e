/**
 * A JSON value kept as the exact text a client sent. CONTRACT.md says a payload comes back
 * deep-equal in any language; parsing it into JS would round integers past 2^53, turn -0
 * into 0 and 1e400 into null. WebSocket adapters therefore splice the client's own text
 * into the reply, which is also cheaper than serializing the payload again.
 */
export class RawJson {
  constructor(readonly text: string) {}

  /** What generic serializers (socket.io, a bus) see: the parsed value. */
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/** The JSON text of a payload: the client's own text when we have it. */
export function jsonText(value: unknown): string {
  return value instanceof RawJson ? value.text : JSON.stringify(value);
}

/** The payload as a JS value, for transports that carry values (socket.io). */
export function plainValue(value: unknown): unknown {
  return value instanceof RawJson ? value.toJSON() : value;
}

/**
 * The exact text of member `key` of the top-level object in `json`, which must already be
 * known to be valid JSON (JSON.parse succeeded). The last occurrence wins, as in JSON.parse.
 */
export function memberText(json: string, key: string): string | undefined {
  let i = skipSpace(json, 0);
  if (json.charCodeAt(i) !== OPEN_BRACE) return undefined;
  i = skipSpace(json, i + 1);
  if (json.charCodeAt(i) === CLOSE_BRACE) return undefined;
  let found: string | undefined;
  for (;;) {
    const nameEnd = stringEnd(json, i);
    const rawName = json.slice(i + 1, nameEnd - 1);
    const name = rawName.includes('\\') ? (JSON.parse(json.slice(i, nameEnd)) as string) : rawName;
    i = skipSpace(json, skipSpace(json, nameEnd) + 1);
    const valueEnd = valueEndAt(json, i);
    if (name === key) found = json.slice(i, valueEnd);
    i = skipSpace(json, valueEnd);
    if (json.charCodeAt(i) !== COMMA) return found;
    i = skipSpace(json, i + 1);
  }
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

function skipSpace(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return i;
    i++;
  }
}

/** `s[i]` is an opening quote; returns the index after the closing one. */
function stringEnd(s: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = s.indexOf('"', from);
    let backslashes = 0;
    while (s.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

function valueEndAt(s: string, i: number): number {
  const first = s.charCodeAt(i);
  if (first === QUOTE) return stringEnd(s, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    let j = i;
    for (;;) {
      const c = s.charCodeAt(j);
      if (c === QUOTE) {
        j = stringEnd(s, j);
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
  }
  // A number or a literal: it ends at the first delimiter.
  let j = i;
  for (;;) {
    const c = s.charCodeAt(j);
    if (
      Number.isNaN(c) ||
      c === COMMA ||
      c === CLOSE_BRACE ||
      c === CLOSE_BRACKET ||
      c === 32 ||
      c === 9 ||
      c === 10 ||
      c === 13
    ) {
      return j;
    }
    j++;
  }
}
