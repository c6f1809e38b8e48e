import type { Logger } from './logger.js';

/** Why a handshake (or a plain request on a WebSocket server) was refused; a metrics label. */
export type RefusalReason =
  | 'not_upgrade'
  | 'method'
  | 'http_version'
  | 'host'
  | 'upgrade_header'
  | 'connection_header'
  | 'version'
  | 'key'
  | 'origin'
  | 'protocol'
  | 'timeout'
  | 'head_too_large'
  | 'malformed'
  | 'path'
  | 'shutting_down';

export interface Refusal {
  reason: RefusalReason;
  /** The HTTP status it was answered with. */
  status: number;
  remoteAddress: string | undefined;
  /** The request's Origin header, when it had one. */
  origin?: string | undefined;
}

/** How a connection ended: its close code (WebSocket), or socket.io's disconnect reason. */
export interface Closing {
  id: string | undefined;
  code: number | string;
  remoteAddress: string | undefined;
}

/**
 * What a server tells whoever watches it (the server apps' Prometheus metrics). Every method
 * is optional and called synchronously where the event happens: the Room (connections,
 * messages, drops, the heartbeat, bus traffic, fan-out), the handshake checks and the http
 * guard (refusals), and the adapters (close codes, socket.io's wire bytes). It has no
 * dependency on any metrics library; keep each method cheap.
 */
export interface ServerObserver {
  connectionOpened?(remoteAddress: string | undefined): void;
  connectionClosed?(closing: Closing): void;
  /** One client message by its type (`echo`, `broadcast`, `binary`, `invalid`). */
  messageIn?(kind: string): void;
  /** `count` copies of one server message by its type (`welcome` ... `error`, `binary`). */
  messageOut?(kind: string, count: number): void;
  /** Bytes of messages received, by wire kind (`text`, `binary`). */
  bytesIn?(kind: 'text' | 'binary', bytes: number): void;
  /** Bytes of messages sent, by wire kind (`text`, `binary`); a fan-out counts every copy. */
  bytesOut?(kind: 'text' | 'binary', bytes: number): void;
  badRequest?(): void;
  handshakeRefused?(refusal: Refusal): void;
  slowConsumerDropped?(): void;
  heartbeatTimeout?(): void;
  busPublished?(kind: string): void;
  busReceived?(kind: string): void;
  /** One broadcast's fan-out to this process's members took `seconds`. */
  fanout?(seconds: number, recipients: number): void;
}

/** A plain HTTP request as an endpoint hook sees it. */
export interface PlainRequest {
  method: string;
  /** The request target, e.g. `/healthz?x=1`. */
  url: string;
  remoteAddress: string | undefined;
}

/** A complete answer to a plain request. */
export interface PlainAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Plain HTTP requests the app answers itself on the adapter's port (health, metrics), before
 * the adapter's own answer; `undefined` leaves the request to the adapter.
 */
export type HttpEndpoints = (request: PlainRequest) => Promise<PlainAnswer> | undefined;

/** The part of the options the reporters below need. */
interface Reporting {
  logger: Logger;
  observer?: ServerObserver | undefined;
}

/**
 * A refused handshake: one info line (the reason, the remote address, the refused Origin)
 * and the observer. Every adapter and the guard refuse through this.
 */
export function reportRefusal(opts: Reporting, refusal: Refusal, why?: string): void {
  opts.logger.info(
    {
      reason: refusal.reason,
      status: refusal.status,
      remoteAddress: refusal.remoteAddress,
      ...(refusal.origin === undefined ? {} : { origin: refusal.origin }),
      ...(why === undefined ? {} : { detail: why }),
    },
    'handshake refused',
  );
  opts.observer?.handshakeRefused?.(refusal);
}

/**
 * Closes an operator wants to see: a client's protocol error, bad UTF-8, an oversized message
 * (1002, 1007, 1009), and socket.io's reasons for the same (its websocket failed, a packet it
 * could not parse).
 */
const NOTEWORTHY_CLOSES: ReadonlySet<number | string> = new Set([1002, 1007, 1009, 'transport error', 'parse error']);

/** A connection closed: the observer, and an info line for 1002/1007/1009 (debug otherwise). */
export function reportClosed(opts: Reporting, closing: Closing, detail: object = {}): void {
  const line = { id: closing.id, code: closing.code, remoteAddress: closing.remoteAddress, ...detail };
  if (NOTEWORTHY_CLOSES.has(closing.code)) opts.logger.info(line, 'connection closed');
  else opts.logger.debug(line, 'connection closed');
  opts.observer?.connectionClosed?.(closing);
}

/** A peer that did not answer the heartbeat, terminated: an info line and the observer. */
export function reportHeartbeatTimeout(
  opts: Reporting,
  id: string | undefined,
  remoteAddress: string | undefined,
): void {
  opts.logger.info({ id, remoteAddress }, 'heartbeat timeout: terminating');
  opts.observer?.heartbeatTimeout?.();
}
