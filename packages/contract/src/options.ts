import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Bus } from './bus.js';
import { DEFAULTS } from './defaults.js';
import { type Logger, silentLogger } from './logger.js';
import type { HttpEndpoints, ServerObserver } from './operations.js';

export { DEFAULTS, SUBPROTOCOL } from './defaults.js';

/**
 * Once the server has ended TCP (closing handshake done, or the connection failed or was
 * dropped), how long a silent peer may keep its socket before it is destroyed. Any input
 * resets it, so a peer still sending the rest of an over-limit message is read to its end.
 * The libraries wait 30 s here, which kept dropped peers (and shutting-down processes) alive.
 */
export const CLOSE_LINGER = 1_000;

/** The longest delay a Node timer honours (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Options every adapter's `createServer` takes. */
export interface ServerOptions {
  /** Port to listen on; 0 (the default for the library) picks a free one. */
  port?: number;
  host?: string;
  /** Origins allowed in the `Origin` header; `*` allows all. */
  allowedOrigins?: readonly string[];
  maxPayload?: number;
  outboundLimit?: number;
  heartbeatInterval?: number;
  handshakeTimeout?: number;
  shutdownTimeout?: number;
  /** Refuse a client that offers no subprotocol. */
  requireProtocol?: boolean;
  /**
   * permessage-deflate (RFC 7692, CONTRACT.md section 3); off by default, as in ws and
   * socket.io. `true` takes the defaults below. An adapter whose library cannot compress
   * (capability `compression: false`) ignores it and answers every offer uncompressed.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Cross-process delivery of broadcasts, joins and leaves; default: this process only. */
  bus?: Bus;
  logger?: Logger;
  /**
   * With a bus: a server process not heard from for this long is gone, and its clients get
   * `leave` everywhere else; when it is heard again they get `join` (CONTRACT.md section 5).
   */
  presenceTimeout?: number;
  /**
   * TLS (CONTRACT.md section 3): serve `wss://` (socket.io: `https://`) with this certificate
   * and key; every other rule is unchanged. Ignored with `server` (the app's server decides).
   */
  tls?: TlsOptions;
  /**
   * Attach to an `http.Server` / `https.Server` the app owns instead of listening on a port:
   * only upgrades (socket.io: requests) on `path` are the adapter's, `close()` leaves it listening.
   */
  server?: HttpServer | HttpsServer;
  /**
   * The path served: with `server` default `/` (socket.io `/socket.io/`), and an upgrade on
   * another path is left to the app; standalone, WebSocket adapters serve every path unless given one.
   */
  path?: string;
  /** Told of connections, messages, refusals, drops and timeouts (the apps' metrics); default none. */
  observer?: ServerObserver;
  /** Plain HTTP requests the app answers on this server's port (the apps' /healthz, /metrics). */
  httpEndpoints?: HttpEndpoints;
}

/** A certificate chain and its private key in PEM; `ca` for a chain the peers do not already trust. */
export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  ca?: string | Buffer | readonly (string | Buffer)[];
}

/** The permessage-deflate parameters a server accepts (RFC 7692 section 7.1) and how it compresses. */
export interface PerMessageDeflateOptions {
  /** Messages smaller than this many bytes are sent uncompressed. */
  threshold?: number;
  /** Ask for (server) / offer (client) no context takeover on the server's side. */
  serverNoContextTakeover?: boolean;
  /** Ask for (server) / offer (client) no context takeover on the client's side. */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window (8-15 bits) the server's compressor may use. */
  serverMaxWindowBits?: number;
  /** Largest LZ77 window (8-15 bits) the client's compressor may use, when the client allows a limit. */
  clientMaxWindowBits?: number;
  /** zlib compression level, 0-9. */
  level?: number;
  /** zlib memLevel, 1-9: memory per compressor. */
  memLevel?: number;
  /** How many zlib operations may run at once per process. */
  concurrencyLimit?: number;
}

/** permessage-deflate defaults (CONTRACT.md section 3 leaves them open; docs/DECISIONS.md says why). */
export const PER_MESSAGE_DEFLATE_DEFAULTS: Required<PerMessageDeflateOptions> = {
  threshold: 1024,
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  level: 3,
  memLevel: 8,
  concurrencyLimit: 10,
};

/** Resolves `perMessageDeflate` to its full parameters, or `false` when it is off. */
export function resolvePerMessageDeflate(
  value: boolean | PerMessageDeflateOptions | undefined,
): Required<PerMessageDeflateOptions> | false {
  if (value === undefined || value === false) return false;
  const merged = { ...PER_MESSAGE_DEFLATE_DEFAULTS, ...(value === true ? {} : stripUndefined(value)) };
  for (const name of ['serverMaxWindowBits', 'clientMaxWindowBits'] as const) {
    const bits = merged[name];
    if (!Number.isInteger(bits) || bits < 8 || bits > 15)
      throw new RangeError(`perMessageDeflate.${name} must be an integer from 8 to 15, got ${bits}`);
  }
  nonNegative('perMessageDeflate.threshold', merged.threshold);
  positive('perMessageDeflate.concurrencyLimit', merged.concurrencyLimit);
  integerIn('perMessageDeflate.level', merged.level, 0, 9);
  integerIn('perMessageDeflate.memLevel', merged.memLevel, 1, 9);
  return merged;
}

export type ResolvedServerOptions = Required<
  Omit<ServerOptions, 'bus' | 'perMessageDeflate' | 'tls' | 'server' | 'path' | 'observer' | 'httpEndpoints'>
> & {
  bus: Bus | undefined;
  observer: ServerObserver | undefined;
  httpEndpoints: HttpEndpoints | undefined;
  perMessageDeflate: Required<PerMessageDeflateOptions> | false;
  tls: TlsOptions | undefined;
  server: HttpServer | HttpsServer | undefined;
  path: string | undefined;
};

/** Fills every option an adapter did not get with the contract default. */
export function resolveServerOptions(
  options: ServerOptions = {},
  adapterDefaults: Partial<ServerOptions> = {},
): ResolvedServerOptions {
  const merged = { ...adapterDefaults, ...stripUndefined(options) };
  return {
    port: merged.port ?? 0,
    host: merged.host ?? DEFAULTS.host,
    allowedOrigins: merged.allowedOrigins ?? DEFAULTS.allowedOrigins,
    maxPayload: positive('maxPayload', merged.maxPayload ?? DEFAULTS.maxPayload),
    outboundLimit: positive('outboundLimit', merged.outboundLimit ?? DEFAULTS.outboundLimit),
    heartbeatInterval: timer(
      'heartbeatInterval',
      positive('heartbeatInterval', merged.heartbeatInterval ?? DEFAULTS.heartbeatInterval),
    ),
    handshakeTimeout: timer(
      'handshakeTimeout',
      positive('handshakeTimeout', merged.handshakeTimeout ?? DEFAULTS.handshakeTimeout),
    ),
    shutdownTimeout: timer(
      'shutdownTimeout',
      nonNegative('shutdownTimeout', merged.shutdownTimeout ?? DEFAULTS.shutdownTimeout),
    ),
    requireProtocol: merged.requireProtocol ?? DEFAULTS.requireProtocol,
    perMessageDeflate: resolvePerMessageDeflate(merged.perMessageDeflate),
    bus: merged.bus,
    logger: merged.logger ?? silentLogger,
    presenceTimeout: timer(
      'presenceTimeout',
      positive('presenceTimeout', merged.presenceTimeout ?? DEFAULTS.presenceTimeout),
    ),
    tls: merged.tls === undefined ? undefined : checkTls(merged.tls),
    server: merged.server,
    path: merged.path === undefined ? undefined : checkPath(merged.path),
    observer: merged.observer,
    httpEndpoints: merged.httpEndpoints,
  };
}

function checkTls(tls: TlsOptions): TlsOptions {
  if (typeof tls !== 'object' || tls === null || !tls.cert || !tls.key)
    throw new TypeError('tls needs both cert and key (PEM strings or Buffers)');
  return tls;
}

function checkPath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path))
    throw new RangeError(`path must start with "/" and hold no query, fragment or space, got ${JSON.stringify(path)}`);
  return path;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

function integerIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
}

function timer(name: string, ms: number): number {
  if (ms > MAX_TIMER_MS)
    throw new RangeError(`${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days), got ${ms}`);
  return ms;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be zero or more, got ${value}`);
  return value;
}
