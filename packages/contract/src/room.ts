import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Bus, BusEvent } from './bus.js';
import { encodeServerText } from './codec.js';
import { type Decoded, decodeClientEvent, decodeClientText } from './decode.js';
import { Heartbeat } from './heartbeat.js';
import { type Logger, silentLogger } from './logger.js';
import type { ConnectionId, ServerMessage } from './messages.js';
import { reportHeartbeatTimeout, type ServerObserver } from './operations.js';
import { DEFAULTS } from './options.js';

/** A fresh connection id, unique across processes (72 random bits). */
export function newConnectionId(): ConnectionId {
  return randomBytes(9).toString('base64url');
}

/**
 * What an adapter gives the room: how to put a message on one connection, and how full
 * that connection's outbound buffer is. Everything the contract says happens in the room.
 */
export interface RoomTransport<C> {
  send(conn: C, message: ServerMessage): void;
  /** Optional fan-out that encodes (or frames) the message once for all recipients. */
  sendToMany?(conns: readonly C[], message: ServerMessage): void;
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
  /**
   * The adapter reports wire bytes to the observer itself (socket.io: engine.io packets);
   * otherwise the room counts each text message's JSON and each binary message's bytes.
   */
  countsOwnBytes?: boolean;
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
  private readonly outboundLimit: number;
  private readonly bus: Bus | undefined;
  private readonly logger: Logger;
  private readonly observer: ServerObserver | undefined;
  /** Whether the room counts bytes for the observer (see `countsOwnBytes`). */
  private readonly countBytes: boolean;
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
    this.observer = options.observer;
    this.countBytes = this.observer !== undefined && !transport.countsOwnBytes;
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

  /** A connection is open: welcome it, then tell everyone else it joined. */
  add(conn: C, id: ConnectionId = newConnectionId(), remoteAddress?: string): ConnectionId {
    this.members.set(conn, { id, remoteAddress });
    this.heartbeat?.track(conn);
    this.logger.debug({ id, remoteAddress, connections: this.members.size }, 'connection joined');
    this.observer?.connectionOpened?.(remoteAddress);
    this.sendTo(conn, { type: 'welcome', id });
    this.fanout({ type: 'join', id }, conn);
    this.publish({ kind: 'join', origin: this.id, id });
    return id;
  }

  /** A connection ended, for any reason: everyone left gets `leave`. Idempotent. */
  remove(conn: C): void {
    const member = this.members.get(conn);
    if (member === undefined) return;
    const { id, remoteAddress } = member;
    this.members.delete(conn);
    this.heartbeat?.untrack(conn);
    this.logger.debug({ id, remoteAddress, connections: this.members.size }, 'connection left');
    this.fanout({ type: 'leave', id });
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

  /** Stops the heartbeat and listening to the bus; the adapter closes the connections. */
  close(): void {
    this.heartbeat?.stop();
    this.unsubscribe?.();
  }

  private deliverRemote(event: BusEvent): void {
    if (event.origin === this.id) return;
    this.observer?.busReceived?.(event.kind);
    switch (event.kind) {
      case 'broadcast':
        this.timedFanout({ type: 'broadcast', from: event.from, payload: event.payload });
        return;
      case 'join':
      case 'leave':
        this.fanout({ type: event.kind, id: event.id });
        return;
    }
  }

  private sendTo(conn: C, message: ServerMessage): void {
    this.transport.send(conn, message);
    this.countOut(message, 1);
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

  /** `count` copies of `message` went out; bytes as the WebSocket adapters' JSON text. */
  private countOut(message: ServerMessage, count: number): void {
    if (!this.observer) return;
    this.observer.messageOut?.(message.type, count);
    if (this.countBytes) this.observer.bytesOut?.('text', Buffer.byteLength(encodeServerText(message)) * count);
  }

  /** Sends to every member (but `except`); returns how many it was handed to. */
  private fanout(message: ServerMessage, except?: C): number {
    const targets: C[] = [];
    for (const conn of this.members.keys()) if (conn !== except) targets.push(conn);
    if (targets.length === 0) return 0;
    if (this.transport.sendToMany) {
      this.transport.sendToMany(targets, message);
    } else {
      for (const conn of targets) this.transport.send(conn, message);
    }
    this.countOut(message, targets.length);
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
