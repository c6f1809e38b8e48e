/**
 * The messages between the benchmark (parent) and its load-generator processes. `ca`: the
 * PEM certificate authority a wss:// or https:// server's certificate is checked against.
 */
import type { ClientKind } from './clients.js';
import type { EchoContent } from './payloads.js';

export type LoadRequest =
  /** Open `count` more clients, at most `concurrency` handshakes in flight; resolve when all are welcomed. */
  | { op: 'connect'; kind: ClientKind; url: string; count: number; concurrency: number; ca?: string }
  /**
   * Connection rate: `count` clients, at most `concurrency` at a time, each opened, welcomed
   * and closed again; the room stays small, so the rate is the handshake's, not the join fan-out's.
   */
  | { op: 'churn'; kind: ClientKind; url: string; count: number; concurrency: number; ca?: string }
  /** Every client sends one echo and awaits it: everything queued for it before has arrived. */
  | { op: 'sync' }
  /** Every client (or the first `clients`) keeps one echo of `payloadBytes` in flight. */
  | { op: 'echoStart'; payloadBytes: number; clients?: number; content?: EchoContent }
  | { op: 'measureStart' }
  | { op: 'measureStop' }
  /** Stop the echo loops and wait for the last replies. */
  | { op: 'echoStop' }
  /** Count broadcasts from now on; report `delivered` events when every client has a seq. */
  | { op: 'expectBroadcasts' }
  /** The first client sends broadcasts seq .. seq+count-1 back to back. */
  | { op: 'sendBroadcasts'; seq: number; count: number; padBytes: number; chat?: boolean }
  /** How many broadcasts each client received since expectBroadcasts. */
  | { op: 'broadcastCounts' }
  /**
   * Soak: a new run (every counter at 0) in which every client sends a numbered echo every
   * `intervalMs`. `dropReplies`: the test hook of ../soak.ts (injectedReplyLoss), the first
   * this many soak replies are discarded as if they never arrived.
   */
  | { op: 'soakStart'; intervalMs: number; dropReplies?: number }
  /** Send what is due, then stop the soak timers (replies still in flight arrive later: `sync`, then `soakResult`). */
  | { op: 'soakStop' }
  /** The counters of the latest run (the one soakStart began), not of any before it. */
  | { op: 'soakResult' }
  | { op: 'closeAll' };

export interface ConnectResult {
  startNs: number;
  endNs: number;
  /** Wire bytes (both directions) from connect to welcome, summed over the new clients. */
  handshakeBytes: number;
}
export interface MeasureResult {
  echoes: number;
  /** Latency histogram (microseconds), hdr-histogram-js compressed base64. */
  histogram: string;
  wireBytes: number;
  mismatches: number;
  /** This load process's own CPU time in the window: shows when the client side is the limit. */
  cpuMicros: number;
}
export interface SendBroadcastsResult {
  sentNs: number;
}
export interface BroadcastCountsResult {
  clients: number;
  min: number;
  max: number;
  total: number;
  /** The recipients count of every broadcastResult the sender got. */
  recipients: number[];
}
export interface SoakResult {
  sent: number;
  received: number;
  duplicated: number;
  /** Replies that arrived after a later-numbered one from the same client. */
  outOfOrder: number;
  /** Replies the test hook discarded (not counted as received): 0 in any real run. */
  dropped: number;
}

/** Unsolicited: every client of this process has broadcast `seq`; `lastNs` is the last arrival. */
export interface DeliveredEvent {
  event: 'delivered';
  seq: number;
  lastNs: number;
}

export type LoadReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** process.hrtime is CLOCK_MONOTONIC: comparable between processes of one machine. */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}
