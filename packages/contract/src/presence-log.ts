import type { ConnectionId, Incoming } from './messages.js';

export interface PresenceReplay {
  /** Who the client counts present at the end. */
  present: Set<ConnectionId>;
  /** Every breach of CONTRACT.md section 1's rule, in order, e.g. `join X while present`. */
  breaches: string[];
}

/**
 * Replays what one client was told (its welcome's `members`, then the messages after it, in
 * arrival order) against section 1's rule: for any id, present and absent alternate, never a
 * `join` for an id counted present nor a `leave` for one counted absent, and never its own id.
 */
export function replayPresence(
  self: ConnectionId,
  members: readonly ConnectionId[],
  after: readonly Incoming[],
): PresenceReplay {
  const present = new Set<ConnectionId>();
  const breaches: string[] = [];
  for (const id of members) {
    if (id === self) breaches.push(`own id ${id} in members`);
    else if (present.has(id)) breaches.push(`${id} twice in members`);
    present.add(id);
  }
  for (const message of after) {
    if (message.type === 'join') {
      if (message.id === self) breaches.push(`join for its own id ${self}`);
      if (present.has(message.id)) breaches.push(`join ${message.id} while present`);
      present.add(message.id);
    } else if (message.type === 'leave') {
      if (!present.has(message.id)) breaches.push(`leave ${message.id} while absent`);
      present.delete(message.id);
    }
  }
  return { present, breaches };
}
