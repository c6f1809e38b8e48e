import { randomBytes } from 'node:crypto';

/**
 * What an echo carries. `repeat`: one letter repeated (the plain phases' payload, the best
 * case for compression); `chat`: chat-like JSON (messages with user, room, time and text,
 * compressible as real chat traffic is); `random`: base64 of random bytes (incompressible:
 * DEFLATE only costs time on it).
 */
export const ECHO_CONTENTS = ['repeat', 'chat', 'random'] as const;
export type EchoContent = (typeof ECHO_CONTENTS)[number];

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const LINES = [
  'are we still on for lunch?',
  'yes, noon at the usual place',
  'I pushed the fix, can you review it',
  'looks good to me, merging now',
  'the build is green again',
  'who is on call this weekend?',
];

/** Chat messages, as JSON, adding messages until the JSON text is at least `bytes` long, then trimming text. */
export function chatPayload(bytes: number, seed = 0): { user: string; room: string; at: number; text: string }[] {
  const messages: { user: string; room: string; at: number; text: string }[] = [];
  let length = 2;
  for (let i = 0; length < bytes; i++) {
    // Another seed: another conversation with the same words.
    const n = i + seed * 31;
    const message = {
      user: USERS[(n * 3) % USERS.length]!,
      room: 'general',
      at: 1_764_633_600_000 + n * 7919,
      text: LINES[(n * 7) % LINES.length]!,
    };
    messages.push(message);
    length += JSON.stringify(message).length + 1;
  }
  // Trim the last text so the payload's JSON is `bytes` long (or the shortest it can be).
  const last = messages.at(-1);
  if (last) last.text = last.text.slice(0, Math.max(0, last.text.length - (length - 1 - bytes)));
  return messages;
}

/** `bytes` characters of base64 from random bytes. */
export function randomPayload(bytes: number): string {
  return randomBytes(Math.ceil((bytes * 3) / 4))
    .toString('base64')
    .slice(0, bytes);
}

/**
 * The payloads one client cycles through. With context takeover a compressor finds a payload
 * it sent before in its 32 KiB window, and an echo of the same bytes every time would compress
 * to almost nothing: so `random` cycles through more than 64 KiB of different payloads (it stays
 * incompressible), and `chat` through 64 different conversations (compressible as chat is:
 * the same words and keys, other values).
 */
export function echoPayloads(content: EchoContent, bytes: number): unknown[] {
  if (content === 'chat') return Array.from({ length: 64 }, (_, seed) => chatPayload(bytes, seed));
  if (content === 'random') {
    return Array.from({ length: Math.max(4, Math.ceil((64 * 1024) / bytes) + 1) }, () => randomPayload(bytes));
  }
  return ['x'.repeat(bytes)];
}

/** Whether an echo reply is the payload sent (cheap: the same shape and length, not a deep compare). */
export function sameShape(reply: unknown, sent: unknown): boolean {
  if (typeof sent === 'string') return typeof reply === 'string' && reply.length === sent.length;
  return Array.isArray(reply) && Array.isArray(sent) && reply.length === sent.length;
}
