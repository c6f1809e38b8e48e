import { type BusEvent, PRESENCE_MODES, type PresenceMode, RawJson } from '@socketlab/contract';

/**
 * The wire form of a bus event: JSON, with bytes tagged so they survive the trip.
 *
 * socket.io payloads may hold Buffers or other typed arrays anywhere inside them, and the
 * contract says they come back as binary. JSON has no bytes, so every ArrayBuffer view or
 * ArrayBuffer becomes `{"$bytes":"<base64>"}`. A payload object that happens to look like a
 * tag (its only key is `$bytes` or `$object`) is wrapped as `{"$object":{...}}`, so no
 * payload can ever be mistaken for a tag: decoding is exact for every JSON value. A payload
 * a WebSocket client sent (`RawJson`, its exact text) travels as `{"$json":"<text>"}` so big
 * integers and -0 reach the other processes' clients unchanged.
 */
const BYTES = '$bytes';
const OBJECT = '$object';
const JSON_TEXT = '$json';

export function encodeBusEvent(event: BusEvent): string {
  return JSON.stringify(encodeValue(event));
}

/** Throws on text that is not JSON; the shape is checked by `isBusEvent`. */
export function decodeBusEvent(text: string): BusEvent | undefined {
  const event = decodeValue(JSON.parse(text));
  return isBusEvent(event) ? event : undefined;
}

function encodeValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) {
    return { [BYTES]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  }
  if (value instanceof ArrayBuffer) return { [BYTES]: Buffer.from(value).toString('base64') };
  if (value instanceof RawJson) return { [JSON_TEXT]: value.text };
  if (Array.isArray(value)) return value.map(encodeValue);
  // Anything else with a toJSON (a Date) goes the way JSON.stringify would send it.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return encodeValue(toJSON.call(value));
  const encoded: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner !== undefined && typeof inner !== 'function') setOwn(encoded, key, encodeValue(inner));
  }
  return looksLikeTag(encoded) ? { [OBJECT]: encoded } : encoded;
}

function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decodeValue);
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0] === BYTES && typeof record[BYTES] === 'string') {
    return Buffer.from(record[BYTES], 'base64');
  }
  if (keys.length === 1 && keys[0] === JSON_TEXT && typeof record[JSON_TEXT] === 'string') {
    return new RawJson(record[JSON_TEXT]);
  }
  // The wrapper's contents are a payload object: its keys are data, never tags.
  const entries = keys.length === 1 && keys[0] === OBJECT && isRecord(record[OBJECT]) ? record[OBJECT] : record;
  const decoded: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(entries)) setOwn(decoded, key, decodeValue(inner));
  return decoded;
}

/** A plain assignment of `__proto__` (a legal JSON key) would replace the prototype instead. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function looksLikeTag(record: Record<string, unknown>): boolean {
  const keys = Object.keys(record);
  return keys.length === 1 && (keys[0] === BYTES || keys[0] === OBJECT || keys[0] === JSON_TEXT);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBusEvent(value: unknown): value is BusEvent {
  if (!isRecord(value) || typeof value.origin !== 'string') return false;
  switch (value.kind) {
    case 'broadcast':
      return typeof value.from === 'string' && 'payload' in value;
    case 'join':
    case 'leave':
      return typeof value.id === 'string';
    case 'presence':
      return (
        PRESENCE_MODES.includes(value.mode as PresenceMode) &&
        Array.isArray(value.members) &&
        value.members.every((id) => typeof id === 'string')
      );
    default:
      return false;
  }
}
