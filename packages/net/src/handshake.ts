import { createHash } from 'node:crypto';
import { DEFAULTS, type PerMessageDeflateOptions, parseTokenList, type UpgradeRequest } from '@socketlab/contract';
import { WEBSOCKET_GUID } from './constants.js';
import { checkAnswer, type DeflateParams } from './permessage-deflate.js';

/*
 * The opening handshake (RFC 6455 section 4) on raw bytes. The head is read incrementally
 * (it may come one byte at a time, and the bytes after it are already frames) and parsed
 * by hand into the `UpgradeRequest` shape; whether to upgrade is `checkUpgrade`'s verdict
 * in @socketlab/contract, the same for every adapter.
 */

export type HeadResult =
  | { kind: 'incomplete' }
  | { kind: 'tooLarge' }
  | { kind: 'complete'; head: string; rest: Buffer };

const TERMINATOR = Buffer.from('\r\n\r\n');

/** Collects bytes until the blank line that ends an HTTP head, refusing heads over `limit`. */
export class HeadReader {
  private buffer = Buffer.allocUnsafe(1024);
  private length = 0;

  constructor(private readonly limit: number = DEFAULTS.maxHeadSize) {}

  push(chunk: Buffer): HeadResult {
    const previous = this.length;
    const room = Math.min(chunk.length, this.limit + TERMINATOR.length - this.length);
    if (this.length + room > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(this.buffer.length * 2, this.length + room), this.limit + 4));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.length, 0, room);
    this.length += room;
    // Only the new bytes and the three before them can complete the terminator.
    const end = this.buffer.subarray(0, this.length).indexOf(TERMINATOR, Math.max(0, previous - 3));
    if (end < 0) return this.length >= this.limit ? { kind: 'tooLarge' } : { kind: 'incomplete' };
    const headEnd = end + TERMINATOR.length;
    if (headEnd > this.limit) return { kind: 'tooLarge' };
    const head = this.buffer.toString('latin1', 0, end);
    // Bytes after the head in the chunk that completed it: the first frames.
    const rest = chunk.subarray(headEnd - previous);
    return { kind: 'complete', head, rest };
  }
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface ParsedRequest extends UpgradeRequest {
  method: string;
  path: string;
}

export interface ParsedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/(\d\.\d)$/;
const STATUS_LINE = /^HTTP\/(\d\.\d) (\d{3})(?: [^\r\n]*)?$/;
/** Field values: visible characters, spaces and tabs, and obs-text (RFC 9110 5.5). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** RFC 9112 section 3: `GET /path HTTP/1.1` then `Name: value` lines. */
export function parseRequestHead(head: string): Parsed<ParsedRequest> {
  const [requestLine = '', ...lines] = head.split('\r\n');
  const match = REQUEST_LINE.exec(requestLine);
  if (!match) return { ok: false, reason: 'malformed request line' };
  const headers = parseHeaderLines(lines);
  if (!headers.ok) return headers;
  return { ok: true, value: { method: match[1]!, path: match[2]!, httpVersion: match[3]!, headers: headers.value } };
}

/** RFC 9112 section 4: `HTTP/1.1 101 Switching Protocols` then `Name: value` lines. */
export function parseResponseHead(head: string): Parsed<ParsedResponse> {
  const [statusLine = '', ...lines] = head.split('\r\n');
  const match = STATUS_LINE.exec(statusLine);
  if (!match) return { ok: false, reason: 'malformed status line' };
  const headers = parseHeaderLines(lines);
  if (!headers.ok) return headers;
  return { ok: true, value: { status: Number(match[2]), headers: headers.value } };
}

/** Names lower-cased; a repeated name keeps every value (checkUpgrade joins them as a list). */
function parseHeaderLines(lines: string[]): Parsed<Record<string, string | string[]>> {
  const headers: Record<string, string | string[]> = Object.create(null);
  for (const line of lines) {
    const colon = line.indexOf(':');
    // No colon, a space before it (RFC 9112 5.1) or obs-fold: refused, as Node's parser does.
    if (colon <= 0) return { ok: false, reason: 'malformed header line' };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { ok: false, reason: 'malformed header name' };
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) return { ok: false, reason: 'invalid character in a header value' };
    const key = name.toLowerCase();
    const existing = headers[key];
    if (existing === undefined) headers[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[key] = [existing, value];
  }
  return { ok: true, value: headers };
}

/** RFC 6455 4.2.2: base64(SHA-1(key + GUID)). */
export function acceptKeyFor(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

/** The server's 101 answer to an accepted upgrade; `extensions` is the accepted Sec-WebSocket-Extensions. */
export function switchingProtocols(key: string, protocol: string | undefined, extensions?: string): string {
  return (
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptKeyFor(key)}\r\n` +
    (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
    (extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '') +
    '\r\n'
  );
}

export interface ClientRequestSpec {
  host: string;
  path: string;
  key: string;
  protocols: readonly string[];
  origin?: string | undefined;
  /** Sec-WebSocket-Extensions to offer. */
  extensions?: string | undefined;
}

/** The client's upgrade request (RFC 6455 4.1). */
export function upgradeRequest(spec: ClientRequestSpec): string {
  const lines = [
    `GET ${spec.path} HTTP/1.1`,
    `Host: ${spec.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${spec.key}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (spec.protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${spec.protocols.join(', ')}`);
  if (spec.origin !== undefined) lines.push(`Origin: ${spec.origin}`);
  if (spec.extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${spec.extensions}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export type ResponseVerdict =
  | { ok: true; protocol: string; deflate?: DeflateParams | undefined }
  | { ok: false; reason: string; status?: number | undefined };

/**
 * RFC 6455 4.1, the client's checks of the server's answer: 101, Upgrade and Connection,
 * the accept key for the key it sent, a subprotocol it offered (and one if it offered
 * any), and no extension it did not ask for: permessage-deflate only when it was offered
 * (`deflate`, as offered), with parameters that answer the offer (RFC 7692 7.1).
 */
export function checkServerResponse(
  response: ParsedResponse,
  key: string,
  offered: readonly string[],
  deflate: Required<PerMessageDeflateOptions> | false = false,
): ResponseVerdict {
  const header = (name: string): string | undefined => {
    const value = response.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  if (response.status !== 101) {
    return { ok: false, status: response.status, reason: `server refused the handshake with HTTP ${response.status}` };
  }
  if (!parseTokenList(header('upgrade')).some((token) => token.toLowerCase() === 'websocket')) {
    return { ok: false, reason: 'the response has no Upgrade: websocket' };
  }
  if (!parseTokenList(header('connection')).some((token) => token.toLowerCase() === 'upgrade')) {
    return { ok: false, reason: 'the response has no Connection: Upgrade' };
  }
  if (header('sec-websocket-accept') !== acceptKeyFor(key)) {
    return { ok: false, reason: 'the Sec-WebSocket-Accept does not match the key sent' };
  }
  const selected = header('sec-websocket-protocol');
  if (selected === undefined) {
    if (offered.length > 0) return { ok: false, reason: 'the server selected no subprotocol' };
  } else if (!offered.includes(selected)) {
    return { ok: false, reason: `the server selected a subprotocol not offered: ${selected}` };
  }
  const extensions = header('sec-websocket-extensions');
  if (extensions === undefined) return { ok: true, protocol: selected ?? '' };
  if (deflate === false) return { ok: false, reason: 'the server selected an extension not offered' };
  const answer = checkAnswer(extensions, deflate);
  if (!answer.ok) return answer;
  return { ok: true, protocol: selected ?? '', deflate: answer.params };
}

/** A complete HTTP/1.1 answer to a plain request (the app's /healthz, /metrics), then close. */
export function plainHttpAnswer(status: number, headers: Record<string, string>, body: string): string {
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Status'}`,
    'Connection: close',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
