/** The contract's defaults: browser-safe (no Node.js import), so `@socketlab/contract/client` can export them. */

const KiB = 1024;
const MiB = 1024 * KiB;

/** Every contract default in one place (CONTRACT.md sections 3 and 4). */
export const DEFAULTS = {
  host: '127.0.0.1',
  /** Max message size; a bigger message closes that connection with 1009. */
  maxPayload: 1 * MiB,
  /** Per-connection unsent outbound bytes before the connection is dropped with 1008. */
  outboundLimit: 4 * MiB,
  /** Ping interval; a peer that has not answered by the next tick is terminated. */
  heartbeatInterval: 30_000,
  /** Time for a client to send a complete upgrade request head. */
  handshakeTimeout: 10_000,
  /** Time the closing handshakes may take on shutdown before the rest is terminated. */
  shutdownTimeout: 5_000,
  /** Largest upgrade request head accepted. */
  maxHeadSize: 16 * KiB,
  /** Default origin allowlist: localhost and 127.0.0.1 on any port. */
  allowedOrigins: ['http://localhost', 'http://127.0.0.1'] as readonly string[],
  /** Whether a client must offer the subprotocol (only the websocket adapter requires it by default). */
  requireProtocol: false,
  /** With a bus: how long a silent server process counts as alive (CONTRACT.md section 5). */
  presenceTimeout: 10_000,
} as const;

export const SUBPROTOCOL = 'echo-protocol';
