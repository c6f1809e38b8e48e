import type { ClientMessage, ServerMessage } from './messages.js';

/**
 * The WebSocket adapters' wire form of a server message: one JSON text. Only the fields
 * the contract lists are ever present, because messages are built from the typed unions.
 */
export function encodeServerText(message: ServerMessage): string {
  return JSON.stringify(message);
}

/** The socket.io form: the type is the event name, the rest of the object its argument. */
export function toEvent(message: ServerMessage): [event: string, arg: Record<string, unknown>] {
  const { type, ...rest } = message;
  return [type, rest];
}

/** Client side of the socket.io form: the event and its argument back into one message. */
export function fromEvent(event: string, arg: unknown): Record<string, unknown> {
  return { ...(typeof arg === 'object' && arg !== null ? arg : {}), type: event };
}

/** Client side of the WebSocket wire form. */
export function encodeClientText(message: ClientMessage): string {
  return JSON.stringify(message);
}
