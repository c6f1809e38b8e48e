import { CLIENT_MESSAGE_TYPES, type ClientMessage, type ClientMessageType } from './messages.js';
import { memberText, RawJson } from './raw-json.js';

/** The result of decoding one client message: the message, or why it is a bad_request. */
export type Decoded = { ok: true; message: ClientMessage } | { ok: false; reason: string };

const MAX_REASON_TYPE_LENGTH = 64;

/**
 * Decodes the text of one WebSocket text message. Never throws on input: everything that
 * is not a valid request becomes a reason for a bad_request answer (CONTRACT.md section 1).
 */
export function decodeClientText(text: string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'message is not valid JSON' };
  }
  if (!isPlainObject(value)) return { ok: false, reason: 'message must be a JSON object' };
  const { type } = value;
  if (typeof type !== 'string') return { ok: false, reason: 'message has no string field "type"' };
  const decoded = decodeTyped(type, value);
  if (!decoded.ok) return decoded;
  // The payload travels on as the client's exact text (see RawJson).
  const payload = memberText(text, 'payload');
  return payload === undefined
    ? decoded
    : { ok: true, message: { type: decoded.message.type, payload: new RawJson(payload) } };
}

/**
 * Decodes one socket.io event: the event name is the type, the single argument the rest
 * of the object (CONTRACT.md section 2).
 */
export function decodeClientEvent(event: string, arg: unknown): Decoded {
  if (!isPlainObject(arg)) return { ok: false, reason: `argument of "${clip(event)}" must be an object` };
  return decodeTyped(event, arg);
}

function decodeTyped(type: string, body: Record<string, unknown>): Decoded {
  if (!isClientType(type)) return { ok: false, reason: `unknown type "${clip(type)}"` };
  // Present means defined: JSON has no undefined, and socket.io drops undefined fields anyway.
  if (body.payload === undefined) return { ok: false, reason: `"${type}" needs a "payload" field` };
  // Extra fields are ignored (CONTRACT.md section 1): only type and payload go on.
  return { ok: true, message: { type, payload: body.payload } };
}

function isClientType(type: string): type is ClientMessageType {
  return (CLIENT_MESSAGE_TYPES as readonly string[]).includes(type);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** Keeps a client-chosen name short in the error text we send back. */
function clip(text: string): string {
  return text.length > MAX_REASON_TYPE_LENGTH ? `${text.slice(0, MAX_REASON_TYPE_LENGTH)}…` : text;
}
