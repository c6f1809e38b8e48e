import type { ConnectionId } from './messages.js';

/**
 * What one server process tells the others through a bus (CONTRACT.md section 5).
 * `origin` is the publishing room's id, so a room never delivers its own events twice.
 */
export type BusEvent =
  | { kind: 'broadcast'; origin: string; from: ConnectionId; payload: unknown }
  | { kind: 'join'; origin: string; id: ConnectionId }
  | { kind: 'leave'; origin: string; id: ConnectionId };

/**
 * Cross-process delivery of room events. Implementations live in `@socketlab/bus`
 * (in-process and Redis). Binary payloads must survive the trip as bytes.
 */
export interface Bus {
  publish(event: BusEvent): void;
  /** Registers a handler for events from every publisher; returns the unsubscribe. */
  subscribe(handler: (event: BusEvent) => void): () => void;
}
