import { PER_MESSAGE_DEFLATE_DEFAULTS, type PerMessageDeflateOptions, resolvePerMessageDeflate } from './options.js';

/**
 * The `perMessageDeflate` option of the ws library (ws 8 `PerMessageDeflateOptions`), which
 * the ws adapter and engine.io (ws under socket.io's websocket transport) both take. Written
 * out here so the contract does not depend on ws.
 */
export interface WsLibraryDeflateOptions {
  threshold: number;
  concurrencyLimit: number;
  serverNoContextTakeover?: true;
  clientNoContextTakeover?: true;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
  zlibDeflateOptions: { level: number; memLevel: number };
}

/**
 * Maps the contract's `perMessageDeflate` to ws's, or `false` when it is off. ws reads some
 * values as refusals where the contract means "no preference", so those are left out:
 * - `serverNoContextTakeover: false` in ws declines every offer that asks for it (a client may),
 *   and on a client `clientNoContextTakeover: false` fails a server that asks for it;
 * - a window of 15 bits is the RFC's default: as a number ws would decline offers for a smaller
 *   server window and, on a server, every offer without `client_max_window_bits` (Safari's);
 *   on a client it would offer `server_max_window_bits=15` instead of nothing.
 */
export function wsLibraryDeflate(
  value: boolean | PerMessageDeflateOptions | undefined,
): WsLibraryDeflateOptions | false {
  const resolved = resolvePerMessageDeflate(value);
  if (!resolved) return false;
  const full = PER_MESSAGE_DEFLATE_DEFAULTS.serverMaxWindowBits;
  return {
    threshold: resolved.threshold,
    concurrencyLimit: resolved.concurrencyLimit,
    zlibDeflateOptions: { level: resolved.level, memLevel: resolved.memLevel },
    ...(resolved.serverNoContextTakeover ? { serverNoContextTakeover: true } : {}),
    ...(resolved.clientNoContextTakeover ? { clientNoContextTakeover: true } : {}),
    ...(resolved.serverMaxWindowBits < full ? { serverMaxWindowBits: resolved.serverMaxWindowBits } : {}),
    ...(resolved.clientMaxWindowBits < full ? { clientMaxWindowBits: resolved.clientMaxWindowBits } : {}),
  };
}
