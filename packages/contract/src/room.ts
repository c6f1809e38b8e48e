import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Bus, BusEvent, PresenceMode } from './bus.js';
import { encodeServerText } from './codec.js';
import { type Decoded, decodeClientEvent, decodeClientText } from './decode.js';
import { Heartbeat } from './heartbeat.js';
import { type Logger, silentLogger } from './logger.js';
import type { ConnectionId, ServerMessage } from './messages.js';
import { reportHeartbeatTimeout, type ServerObserver } from './operations.js';
import { DEFAULTS } from './options.js';
import { PeerRosters, presencePacing } from './presence.js';

/** A fresh connection id, unique across processes (72 random bits). */
export function newConnectionId(): ConnectionId {
  return randomBytes(9).toString('base64url');
}

/**
 * What an adapter gives the room: how to put a message on one connection, and how full
 * that connection's outbound buffer is. Everything the contract says happens in the room.
 * A WebSocket adapter takes each message as the contract's JSON text (`TextRoomTransport`);
 * one with an encoding of its own (socket.io events) takes the message (`MessageRoomTransport`).
 */
export type RoomTransport<C> = TextRoomTransport<C> | MessageRoomTransport<C>;

/**
 * The room encodes each message once (`encodeServerText`), for every recipient of a fan-out,
 * and counts the observer's bytes on that same text.
 */
export interface TextRoomTransport<C> extends TransportBase<C> {
  sendText(conn: C, text: string): void;
  /** Optional fan-out that frames (or compresses) the text once for all recipients. */
  sendTextToMany?(conns: readonly C[], text: string): void;
}

/**
 * The transport encodes the message itself, so it reports its own wire bytes to the observer,
 * if at all (socket.io: engine.io packets); the room counts messages only.
 */
export interface MessageRoomTransport<C> extends TransportBase<C> {
  send(conn: C, message: ServerMessage): void;
  /** Optional fan-out that encodes the message once for all recipients. */
  sendToMany?(conns: readonly C[], message: ServerMessage): void;
}

interface TransportBase<C> {
  sendBinary(conn: C, data: Uint8Array): void;
  /** Bytes queued for this connection and not yet handed to the kernel. */
  bufferedAmount(conn: C): number;
  /** Attempt a 1008 close, then destroy the connection (CONTRACT.md section 4). */
  dropSlowConsumer(conn: C): void;
  /**
   * How to ping and terminate one connection, for transports whose library keeps no
   * heartbeat of its own: the room then runs CONTRACT.md section 4's heartbeat for them.
   */
  heartbeat?: { ping(conn: C): void; terminate(conn: C): void };
}

/** One member of the room. */
interface Member {
  id: ConnectionId;
  remoteAddress: string | undefined;
}

export interface RoomOptions {
  outboundLimit?: number;
  /** The ping interval, when the transport has a `heartbeat`; default 30 s. */
  heartbeatInterval?: number;
  bus?: Bus | undefined;
  /** With a bus: how long another room may stay silent before its clients count as gone; default 10 s. */
  presenceTimeout?: number;
  /** Milliseconds on a monotonic clock, for presence; default `performance.now` (tests freeze it). */
  clock?: () => number;
  logger?: Logger;
  observer?: ServerObserver | undefined;
}

/**
 * The one implementation of CONTRACT.md's behaviour: welcome/join/leave, echo, broadcast
 * with its result, bad_request, binary echo, the slow-consumer limit and bus delivery.
 * Adapters only translate transport events into these calls, so no adapter can drift.
 * Every handler is synchronous, which is what keeps replies in the order requests came.
 */
export class Room<C> {
  /** Identifies this room on a bus, so its own events are not delivered twice. */
  readonly id = newConnectionId();
  private readonly members = new Map<C, Member>();
  private readonly localIds = new Set<ConnectionId>();
  /**
   * Every id this room's clients count present (each client: all but itself). All of them
   * were told the same since their welcome, so one set is what each was told, and every
   * join or leave goes out only when it changes this set: section 1's rule by construction.
   */
  private readonly told = new Set<ConnectionId>();
  /** The other rooms on the bus: their rosters and liveness. */
  private readonly peers = new PeerRosters();
  private readonly presenceTimers: NodeJS.Timeout[] = [];
  private readonly clock: () => number;
  private lastCheck: number;
  private readonly outboundLimit: number;
  private readonly bus: Bus | undefined;
  private readonly logger: Logger;
  private readonly observer: ServerObserver | undefined;
  /** Whether the room counts bytes for the observer: with a text transport. */
  private readonly countBytes: boolean;
  /** Exactly one of these is set: how messages go out. */
  private readonly text: TextRoomTransport<C> | undefined;
  private readonly messages: MessageRoomTransport<C> | undefined;
  private readonly unsubscribe: (() => void) | undefined;
  private readonly heartbeat: Heartbeat<C> | undefined;
  private peakBuffered = 0;

  constructor(
    private readonly transport: RoomTransport<C>,
    options: RoomOptions = {},
  ) {
    this.outboundLimit = options.outboundLimit ?? DEFAULTS.outboundLimit;
    this.bus = options.bus;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? (() => performance.now());
    this.lastCheck = this.clock();
    this.observer = options.observer;
    if ('sendText' in transport) this.text = transport;
    else this.messages = transport;
    this.countBytes = this.observer !== undefined && this.text !== undefined;
    const probe = transport.heartbeat;
    if (probe) {
      this.heartbeat = new Heartbeat<C>(options.heartbeatInterval ?? DEFAULTS.heartbeatInterval, {
        ping: (conn) => probe.ping(conn),
        terminate: (conn) => {
          const member = this.members.get(conn);
          reportHeartbeatTimeout({ logger: this.logger, observer: this.observer }, member?.id, member?.remoteAddress);
          probe.terminate(conn);
        },
      });
    }
    this.unsubscribe = this.bus?.subscribe((event) => this.deliverRemote(event));
    if (this.bus) this.startPresence(options.presenceTimeout ?? DEFAULTS.presenceTimeout);
  }

  get size(): number {
    return this.members.size;
  }

  /** The most bytes any connection had queued after a send: the bounded-memory check. */
  get peakBufferedBytes(): number {
    return this.peakBuffered;
  }

  idOf(conn: C): ConnectionId | undefined {
    return this.members.get(conn)?.id;
  }

  /** The peer's address as the adapter gave it to `add`. */
  remoteAddressOf(conn: C): string | undefined {
    return this.members.get(conn)?.remoteAddress;
  }

  connections(): C[] {
    return [...this.members.keys()];
  }

  /** Starts pinging (a no-op when the transport's library keeps its own heartbeat). */
  startHeartbeat(): void {
    this.heartbeat?.start();
  }

  stopHeartbeat(): void {
    this.heartbeat?.stop();
  }

  /** A pong: the peer lives until the next heartbeat tick at least (any message counts too). */
  pong(conn: C): void {
    this.heartbeat?.alive(conn);
  }

  /** The ids this room's clients count present: its own connections and the live peers'. */
  roster(): ConnectionId[] {
    return [...this.told];
  }

  /** A connection is open: welcome it with the roster, then tell everyone else it joined. */
  add(conn: C, id: ConnectionId = newConnectionId(), remoteAddress?: string): ConnectionId {
    this.members.set(conn, { id, remoteAddress });
    this.localIds.add(id);
    this.heartbeat?.track(conn);
    this.logger.debug({ id, remoteAddress, connections: this.members.size }, 'connection joined');
    this.observer?.connectionOpened?.(remoteAddress);
    const members: ConnectionId[] = [];
    for (const other of this.told) if (other !== id) members.push(other);
    this.sendTo(conn, { type: 'welcome', id, members });
    this.publish({ kind: 'join', origin: this.id, id });
    // Dropped while being welcomed: remove() already ran, and nobody is told of it.
    if (!this.members.has(conn)) return id;
    if (!this.told.has(id)) {
      this.told.add(id);
      this.fanout({ type: 'join', id }, conn);
    }
    return id;
  }

  /** A connection ended, for any reason: everyone left gets `leave`. Idempotent. */
  remove(conn: C): void {
    const member = this.members.get(conn);
    if (member === undefined) return;
    const { id, remoteAddress } = member;
    this.members.delete(conn);
    this.localIds.delete(id);
    this.heartbeat?.untrack(conn);
    this.logger.debug({ id, remoteAddress, connections: this.members.size }, 'connection left');
    this.reconcile(id);
    this.publish({ kind: 'leave', origin: this.id, id });
  }

  /** One text message from a WebSocket client. */
  receiveText(conn: C, text: string): void {
    if (this.countBytes && this.members.has(conn)) this.observer?.bytesIn?.('text', Buffer.byteLength(text));
    this.receive(conn, decodeClientText(text));
  }

  /** One socket.io event. */
  receiveEvent(conn: C, event: string, arg: unknown): void {
    this.receive(conn, decodeClientEvent(event, arg));
  }

  /** One binary message: echoed to the sender alone, byte for byte. */
  receiveBinary(conn: C, data: Uint8Array): void {
    if (!this.members.has(conn)) return;
    this.heartbeat?.alive(conn);
    if (this.observer) {
      this.observer.messageIn?.('binary');
      this.observer.messageOut?.('binary', 1);
      if (this.countBytes) {
        this.observer.bytesIn?.('binary', data.byteLength);
        this.observer.bytesOut?.('binary', data.byteLength);
      }
    }
    this.transport.sendBinary(conn, data);
    this.checkBuffered(conn);
  }

  receive(conn: C, decoded: Decoded): void {
    const from = this.members.get(conn)?.id;
    if (from === undefined) return;
    this.heartbeat?.alive(conn);
    if (!decoded.ok) {
      this.observer?.messageIn?.('invalid');
      this.observer?.badRequest?.();
      this.sendTo(conn, { type: 'error', code: 'bad_request', message: decoded.reason });
      return;
    }
    const { message } = decoded;
    this.observer?.messageIn?.(message.type);
    if (message.type === 'echo') {
      this.sendTo(conn, { type: 'echo', payload: message.payload });
      return;
    }
    const recipients = this.timedFanout({ type: 'broadcast', from, payload: message.payload });
    // The sender's own copy went out in the fan-out above, so it precedes the result.
    if (this.members.has(conn)) {
      this.sendTo(conn, { type: 'broadcastResult', payload: message.payload, recipients });
    }
    this.publish({ kind: 'broadcast', origin: this.id, from, payload: message.payload });
  }

  /** Stops the heartbeat and listening to the bus (saying goodbye on it); the adapter closes the connections. */
  close(): void {
    this.heartbeat?.stop();
    for (const timer of this.presenceTimers.splice(0)) clearInterval(timer);
    if (this.bus && this.unsubscribe) this.publishPresence('bye');
    this.unsubscribe?.();
  }

  private deliverRemote(event: BusEvent): void {
    if (event.origin === this.id) return;
    this.observer?.busReceived?.(event.kind);
    const now = this.clock();
    if (event.kind === 'presence') {
      this.deliverPresence(event.origin, event.mode, event.members, now);
      return;
    }
    const peer = this.peers.heard(event.origin, now);
    switch (event.kind) {
      case 'broadcast':
        this.timedFanout({ type: 'broadcast', from: event.from, payload: event.payload });
        return;
      case 'join':
        peer.roster.add(event.id);
        this.reconcile(event.id);
        return;
      case 'leave':
        peer.roster.delete(event.id);
        this.reconcile(event.id);
        return;
    }
  }

  private deliverPresence(origin: string, mode: PresenceMode, members: readonly ConnectionId[], now: number): void {
    if (mode === 'bye') {
      for (const id of this.peers.forget(origin)) this.reconcile(id);
      return;
    }
    const known = this.peers.knows(origin);
    if (!known) this.logger.info({ peer: origin, connections: members.length }, 'peer room joined');
    // A full roster: the peer's own truth, in its publish order after every delta before it.
    for (const id of this.peers.replace(origin, members, now)) this.reconcile(id);
    // A room that starts or wakes asks; one we did not know may not know us either.
    if (mode === 'ask' || (mode === 'heartbeat' && !known)) this.publishPresence('answer');
  }

  /**
   * Whether `id` should count present (a connection here, or on a live peer) against what
   * the clients were told; the difference, if any, goes out as one join or one leave.
   */
  private reconcile(id: ConnectionId): void {
    const present = this.localIds.has(id) || this.peers.holds(id);
    if (present === this.told.has(id)) return;
    if (present) {
      this.told.add(id);
      this.fanout({ type: 'join', id });
    } else {
      this.told.delete(id);
      this.fanout({ type: 'leave', id });
    }
  }

  private publishPresence(mode: PresenceMode): void {
    this.publish({ kind: 'presence', origin: this.id, mode, members: [...this.localIds] });
  }

  private startPresence(timeout: number): void {
    const pacing = presencePacing(timeout);
    this.publishPresence('ask');
    const beat = setInterval(() => this.publishPresence('heartbeat'), pacing.heartbeat);
    const check = setInterval(() => this.checkPeers(pacing.silence), pacing.check);
    for (const timer of [beat, check]) {
      // Presence alone must never keep a process alive.
      timer.unref();
      this.presenceTimers.push(timer);
    }
  }

  /** Peers silent for longer than `silence` are gone: their clients leave, for every client here. */
  private checkPeers(silence: number): void {
    const now = this.clock();
    const frozenFor = now - this.lastCheck;
    this.lastCheck = now;
    if (frozenFor > silence) {
      // This process was frozen (SIGSTOP, a long stall): the silence was ours, not theirs.
      // Their news is waiting in the socket; give every peer a fresh period and ask again.
      this.logger.warn({ frozenMs: frozenFor }, 'presence check was late: asking the peers again');
      this.peers.pardonAll(now);
      this.publishPresence('ask');
      return;
    }
    for (const origin of this.peers.silentSince(now - silence)) {
      const roster = this.peers.forget(origin);
      this.logger.warn({ peer: origin, connections: roster.length, silentMs: silence }, 'peer room gone');
      for (const id of roster) this.reconcile(id);
    }
  }

  private sendTo(conn: C, message: ServerMessage): void {
    if (this.text) {
      const text = encodeServerText(message);
      this.text.sendText(conn, text);
      this.countOut(message, 1, text);
    } else {
      this.messages!.send(conn, message);
      this.countOut(message, 1);
    }
    this.checkBuffered(conn);
  }

  private publish(event: BusEvent): void {
    if (!this.bus) return;
    this.bus.publish(event);
    this.observer?.busPublished?.(event.kind);
  }

  /** A broadcast's fan-out, timed for the observer's histogram. */
  private timedFanout(message: ServerMessage): number {
    if (!this.observer?.fanout) return this.fanout(message);
    const started = performance.now();
    const recipients = this.fanout(message);
    this.observer.fanout((performance.now() - started) / 1000, recipients);
    return recipients;
  }

  /** `count` copies of `message` went out, as `text` when the room encoded it. */
  private countOut(message: ServerMessage, count: number, text?: string): void {
    if (!this.observer) return;
    this.observer.messageOut?.(message.type, count);
    if (this.countBytes && text !== undefined) this.observer.bytesOut?.('text', Buffer.byteLength(text) * count);
  }

  /** Sends to every member (but `except`); returns how many it was handed to. */
  private fanout(message: ServerMessage, except?: C): number {
    const targets: C[] = [];
    for (const conn of this.members.keys()) if (conn !== except) targets.push(conn);
    if (targets.length === 0) return 0;
    let text: string | undefined;
    if (this.text) {
      text = encodeServerText(message);
      if (this.text.sendTextToMany) this.text.sendTextToMany(targets, text);
      else for (const conn of targets) this.text.sendText(conn, text);
    } else {
      const messages = this.messages!;
      if (messages.sendToMany) messages.sendToMany(targets, message);
      else for (const conn of targets) messages.send(conn, message);
    }
    this.countOut(message, targets.length, text);
    // Drop slow consumers only after the loop, so a leave cannot interleave the fan-out.
    let slow: C[] | undefined;
    for (const conn of targets) {
      if (this.isOverLimit(conn)) (slow ??= []).push(conn);
    }
    if (slow) for (const conn of slow) this.drop(conn);
    return targets.length;
  }

  private checkBuffered(conn: C): void {
    if (this.isOverLimit(conn)) this.drop(conn);
  }

  private isOverLimit(conn: C): boolean {
    const buffered = this.transport.bufferedAmount(conn);
    if (buffered > this.peakBuffered) this.peakBuffered = buffered;
    return buffered > this.outboundLimit;
  }

  private drop(conn: C): void {
    const member = this.members.get(conn);
    if (member === undefined) return;
    this.logger.warn(
      { id: member.id, remoteAddress: member.remoteAddress, limit: this.outboundLimit },
      'slow consumer dropped',
    );
    this.observer?.slowConsumerDropped?.();
    this.transport.dropSlowConsumer(conn);
    this.remove(conn);
  }
}
