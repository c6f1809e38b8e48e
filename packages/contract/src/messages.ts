/**
 * The wire messages of CONTRACT.md sections 1 and 2, as discriminated unions.
 * WebSocket adapters put one of these, as JSON, in one text frame; socket.io uses
 * `type` as the event name and the rest of the object as the single argument.
 */

/** A connection id: unique across every process that shares a bus. */
export type ConnectionId = string;

export interface EchoRequest {
  type: 'echo';
  payload: unknown;
}
export interface BroadcastRequest {
  type: 'broadcast';
  payload: unknown;
}
export type ClientMessage = EchoRequest | BroadcastRequest;
export type ClientMessageType = ClientMessage['type'];
export const CLIENT_MESSAGE_TYPES: readonly ClientMessageType[] = ['echo', 'broadcast'];

export interface WelcomeMessage {
  type: 'welcome';
  id: ConnectionId;
  /** The roster: every other connection in the room (on every process of a bus), in no order. */
  members: ConnectionId[];
}
export interface JoinMessage {
  type: 'join';
  id: ConnectionId;
}
export interface LeaveMessage {
  type: 'leave';
  id: ConnectionId;
}
export interface EchoMessage {
  type: 'echo';
  payload: unknown;
}
export interface BroadcastMessage {
  type: 'broadcast';
  from: ConnectionId;
  payload: unknown;
}
export interface BroadcastResultMessage {
  type: 'broadcastResult';
  payload: unknown;
  recipients: number;
}
export type ErrorCode = 'bad_request';
export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
}
export type ServerMessage =
  | WelcomeMessage
  | JoinMessage
  | LeaveMessage
  | EchoMessage
  | BroadcastMessage
  | BroadcastResultMessage
  | ErrorMessage;

/** What a client receives: a server message, or (WebSocket adapters) a binary message. */
export interface BinaryMessage {
  type: 'binary';
  data: Uint8Array;
}
/** A text message the client could not parse as JSON: always a server bug, kept for the error text. */
export interface UnparsedMessage {
  type: 'unparsed';
  text: string;
}
export type Incoming = ServerMessage | BinaryMessage | UnparsedMessage;

/** Client side of the WebSocket wire form: one text message into an incoming message. */
export function parseServerText(text: string): Incoming {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string') {
      return value as ServerMessage;
    }
  } catch {
    // fall through: reported as unparsed
  }
  return { type: 'unparsed', text };
}

/** Narrows an incoming message by its type. */
export type IncomingOfType<T extends Incoming['type']> = Extract<Incoming, { type: T }>;
