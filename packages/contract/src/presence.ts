import type { ConnectionId } from './messages.js';

/**
 * How a room paces its presence on a bus, all from the one presence timeout T: a heartbeat
 * every T/5, a liveness check every T/10, and a room not heard from for 3T/5 is gone. A
 * process that dies right after a heartbeat is declared gone by 3T/5 + T/10 = 0.7T, which
 * leaves 0.3T for delivering the leaves and for a loaded event loop (packages/bus/README.md).
 */
export function presencePacing(timeout: number): { heartbeat: number; check: number; silence: number } {
  return { heartbeat: timeout / 5, check: timeout / 10, silence: (timeout * 3) / 5 };
}

interface Peer {
  roster: Set<ConnectionId>;
  heard: number;
}

/**
 * What one room knows of the other rooms on its bus: each one's own connections (its roster)
 * and when it was last heard from. Every change returns the ids it may have changed, so the
 * room can reconcile what its clients were told.
 */
export class PeerRosters {
  private readonly peers = new Map<string, Peer>();

  get size(): number {
    return this.peers.size;
  }

  knows(origin: string): boolean {
    return this.peers.has(origin);
  }

  /** Whether any live peer has this connection. */
  holds(id: ConnectionId): boolean {
    for (const peer of this.peers.values()) if (peer.roster.has(id)) return true;
    return false;
  }

  /** Every id some live peer holds. */
  *ids(): Iterable<ConnectionId> {
    for (const peer of this.peers.values()) yield* peer.roster;
  }

  /** Any event from `origin` proves it alive; an unknown origin starts with an empty roster. */
  heard(origin: string, now: number): Peer {
    let peer = this.peers.get(origin);
    if (!peer) {
      peer = { roster: new Set(), heard: now };
      this.peers.set(origin, peer);
    }
    peer.heard = now;
    return peer;
  }

  /** A full roster replaces what was known; returns the ids that were in either. */
  replace(origin: string, members: readonly ConnectionId[], now: number): ConnectionId[] {
    const peer = this.heard(origin, now);
    const touched = new Set(peer.roster);
    peer.roster = new Set(members);
    for (const id of members) touched.add(id);
    return [...touched];
  }

  /** Forgets a peer (closed, or silent too long); returns its roster. */
  forget(origin: string): ConnectionId[] {
    const peer = this.peers.get(origin);
    if (!peer) return [];
    this.peers.delete(origin);
    return [...peer.roster];
  }

  /** The origins not heard from since `before`. */
  silentSince(before: number): string[] {
    const silent: string[] = [];
    for (const [origin, peer] of this.peers) if (peer.heard < before) silent.push(origin);
    return silent;
  }

  /** After this process itself was frozen, nobody's silence is evidence: every peer gets a fresh period. */
  pardonAll(now: number): void {
    for (const peer of this.peers.values()) peer.heard = now;
  }
}
