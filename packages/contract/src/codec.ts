import type { ClientMessage, ServerMessage } from './messages.js';
import { jsonText, plainValue } from './raw-json.js';

/**
 * The WebSocket adapters' wire form of a server message: one JSON text with exactly the
 * fields the contract lists, in its order.
 */
export function encodeServerText(message: ServerMessage): string {
  // Written by hand so payloads go out as the exact text they came in (RawJson).
  switch (message.type) {
    case 'welcome':
      return `{"type":"welcome","id":${JSON.stringify(message.id)},"members":${JSON.stringify(message.members)}}`;
    case 'join':
    case 'leave':
      return `{"type":"${message.type}","id":${JSON.stringify(message.id)}}`;
    case 'echo':
      return `{"type":"echo","payload":${jsonText(message.payload)}}`;
    case 'broadcast':
      return `{"type":"broadcast","from":${JSON.stringify(message.from)},"payload":${jsonText(message.payload)}}`;
    case 'broadcastResult':
      return `{"type":"broadcastResult","payload":${jsonText(message.payload)},"recipients":${message.recipients}}`;
    case 'error':
      return `{"type":"error","code":${JSON.stringify(message.code)},"message":${JSON.stringify(message.message)}}`;
  }
}

/** The socket.io form: the type is the event name, the rest of the object its argument. */
export function toEvent(message: ServerMessage): [event: string, arg: Record<string, unknown>] {
  const { type, ...rest } = message;
  if ('payload' in rest) rest.payload = plainValue(rest.payload);
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
