import type { ConnectionId } from './messages.js';

/**
 * What one server process tells the others through a bus (CONTRACT.md section 5).
 * `origin` is the publishing room's id, so a room never delivers its own events twice.
 */
export type BusEvent =
  | { kind: 'broadcast'; origin: string; from: ConnectionId; payload: unknown }
  | { kind: 'join'; origin: string; id: ConnectionId }
  | { kind: 'leave'; origin: string; id: ConnectionId }
  | PresenceEvent;

/**
 * A room's liveness and roster (see room.ts and packages/bus/README.md): `heartbeat` every
 * fifth of the presence timeout, `ask` when a room starts or wakes from a stall (every room
 * that hears it answers at once), `answer` to an ask or to a heartbeat from a room it did
 * not know, `bye` when a room closes. `members` is the origin's own connections.
 */
export interface PresenceEvent {
  kind: 'presence';
  origin: string;
  mode: PresenceMode;
  members: ConnectionId[];
}
export type PresenceMode = 'heartbeat' | 'ask' | 'answer' | 'bye';
export const PRESENCE_MODES: readonly PresenceMode[] = ['heartbeat', 'ask', 'answer', 'bye'];

/**
 * Cross-process delivery of room events. Implementations live in `@socketlab/bus`
 * (in-process and Redis). Binary payloads must survive the trip as bytes.
 */
export interface Bus {
  publish(event: BusEvent): void;
  /** Registers a handler for events from every publisher; returns the unsubscribe. */
  subscribe(handler: (event: BusEvent) => void): () => void;
}
