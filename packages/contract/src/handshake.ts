import type { RefusalReason } from './operations.js';
import { SUBPROTOCOL } from './options.js';
import { isOriginAllowed } from './origin.js';

/** The parts of an upgrade request the checks read; header names are lower case. */
export interface UpgradeRequest {
  method?: string | undefined;
  /** e.g. '1.1' */
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface HandshakePolicy {
  allowedOrigins: readonly string[];
  requireProtocol: boolean;
}

export type HandshakeVerdict =
  | { ok: true; protocol: string | undefined; key: string }
  | { ok: false; status: number; reason: string; refusal: RefusalReason; headers?: Record<string, string> };

const KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;

/**
 * CONTRACT.md section 3 as one pure function: every WebSocket adapter asks it before
 * upgrading, so the refusals (and their HTTP statuses) are the same on every server.
 */
export function checkUpgrade(request: UpgradeRequest, policy: HandshakePolicy): HandshakeVerdict {
  const header = (name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const upgrade = header('upgrade');
  if (upgrade === undefined) {
    return {
      ok: false,
      refusal: 'not_upgrade',
      status: 426,
      reason: 'this is a WebSocket server: send an upgrade request (Upgrade: websocket)',
      headers: { Upgrade: 'websocket' },
    };
  }
  if (request.method !== 'GET') {
    return {
      ok: false,
      refusal: 'method',
      status: 405,
      reason: 'the upgrade request must use GET',
      headers: { Allow: 'GET' },
    };
  }
  if (!/^1\.[1-9]$/.test(request.httpVersion)) {
    return { ok: false, status: 400, reason: 'the upgrade request must be HTTP/1.1', refusal: 'http_version' };
  }
  if (!header('host')?.trim()) {
    return { ok: false, status: 400, reason: 'the upgrade request needs a Host header', refusal: 'host' };
  }
  if (!hasToken(upgrade, 'websocket')) {
    return { ok: false, status: 400, reason: 'the Upgrade header must name websocket', refusal: 'upgrade_header' };
  }
  if (!hasToken(header('connection'), 'upgrade')) {
    return {
      ok: false,
      status: 400,
      reason: 'the Connection header must include Upgrade',
      refusal: 'connection_header',
    };
  }
  const version = header('sec-websocket-version')?.trim();
  if (version !== '13') {
    return {
      ok: false,
      refusal: 'version',
      status: 426,
      reason: 'unsupported Sec-WebSocket-Version: this server speaks version 13',
      headers: { 'Sec-WebSocket-Version': '13' },
    };
  }
  const key = header('sec-websocket-key')?.trim();
  if (key === undefined || !KEY_PATTERN.test(key)) {
    return { ok: false, status: 400, reason: 'Sec-WebSocket-Key must be the base64 of 16 bytes', refusal: 'key' };
  }
  if (!isOriginAllowed(header('origin'), policy.allowedOrigins)) {
    return { ok: false, status: 403, reason: 'origin not allowed', refusal: 'origin' };
  }
  const protocolHeader = header('sec-websocket-protocol');
  const offered = parseTokenList(protocolHeader);
  if (protocolHeader !== undefined && offered.length === 0) {
    return {
      ok: false,
      status: 400,
      reason: 'Sec-WebSocket-Protocol is present but names no subprotocol',
      refusal: 'protocol',
    };
  }
  if (offered.length > 0) {
    if (!offered.includes(SUBPROTOCOL)) {
      return {
        ok: false,
        status: 400,
        reason: `no supported subprotocol offered: this server speaks ${SUBPROTOCOL}`,
        refusal: 'protocol',
      };
    }
    return { ok: true, protocol: SUBPROTOCOL, key };
  }
  if (policy.requireProtocol) {
    return {
      ok: false,
      status: 400,
      reason: `this server requires the ${SUBPROTOCOL} subprotocol`,
      refusal: 'protocol',
    };
  }
  return { ok: true, protocol: undefined, key };
}

/** `a, b,c` -> ['a', 'b', 'c']; empty entries dropped. */
export function parseTokenList(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token.length > 0);
}

function hasToken(value: string | undefined, token: string): boolean {
  return parseTokenList(value).some((entry) => entry.toLowerCase() === token);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

/**
 * The bytes of a refusal: a complete HTTP/1.1 response with a text body that says why,
 * then the connection closes. Written raw because the socket is not in Node's HTTP hands.
 */
export function httpRefusal(status: number, reason: string, headers: Record<string, string> = {}): string {
  const body = `${reason}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
