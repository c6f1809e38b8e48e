import type { Socket } from 'node:net';
import { CLOSE_LINGER, CloseCode, type CloseInfo, closeReasonFor, isValidWireCloseCode } from '@socketlab/contract';
import { CLOSE_TIMEOUT, Opcode } from './constants.js';
import type { PerMessageDeflate } from './permessage-deflate.js';
import { type ProtocolError, Receiver, type ReceiverHandlers } from './receiver.js';
import { closePayload, encodeCompressedFrame, encodeFrame, Sender } from './sender.js';

export type ConnectionState = 'open' | 'closing' | 'closed';

/**
 * What a connection tells its owner. Methods that take the connection, so that one object
 * serves every connection of a server: an idle connection costs no closure per event.
 */
export interface ConnectionListener {
  text?(conn: Connection, text: string): void;
  binary?(conn: Connection, data: Buffer): void;
  pong?(conn: Connection, data: Buffer): void;
  /** The peer broke the protocol; `error.reason` says how (the close frame carries the code's one reason). */
  violation?(conn: Connection, error: ProtocolError): void;
  /** A text, binary or pong handler threw; the connection has been failed with 1011. */
  handlerError?(conn: Connection, error: unknown): void;
  /**
   * Nothing more will be exchanged: the closing handshake is complete, or the connection
   * failed, or the socket went away. `code` is the peer's close code, the code this side
   * failed the connection with, or 1006. The TCP connection may still be winding down.
   */
  finished?(conn: Connection, code: number): void;
  /** The socket is closed; `info` as in `Connection.closed`. Always after `finished`. */
  closed?(conn: Connection, info: CloseInfo): void;
}

export interface ConnectionOptions {
  role: 'server' | 'client';
  maxPayload: number;
  listener?: ConnectionListener;
  /** How long the closing handshake may take before the socket is destroyed. */
  closeTimeout?: number;
  /** After this side ended TCP: how long a silent peer is waited for (see CLOSE_LINGER). */
  closeLinger?: number;
  /**
   * Pings are not answered while the socket holds more unsent bytes than this: a peer that
   * floods pings and never reads cannot grow the pong backlog without bound (RFC 6455
   * 5.5.3 lets an endpoint skip pongs). Default: no limit.
   */
  pongBacklogLimit?: number;
  /** permessage-deflate, when it was negotiated in the handshake. */
  deflate?: PerMessageDeflate | undefined;
}

/**
 * A frame waiting in a connection's outgoing queue: ready, or still being compressed. One
 * object can sit in many queues: a broadcast compressed once for every recipient.
 */
export interface QueuedFrame {
  frame: Buffer | undefined;
  done: boolean;
  /** What it counts towards the outbound limit while queued. */
  bytes: number;
  /** Connections to flush once it is done (a shared frame). */
  waiters?: Connection[];
}

const NO_LISTENER: ConnectionListener = {};
/** The socket's connection, for the socket listeners below (shared by every connection). */
const kConnection = Symbol('connection');
type OwnedSocket = Socket & { [kConnection]?: Connection };

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kConnection]?.receive(chunk);
}
function onSocketClose(this: OwnedSocket): void {
  this[kConnection]?.ended();
}
// A reset or write error is followed by 'close'; that is where the end is handled.
function onSocketError(): void {}

/**
 * One WebSocket connection over an upgraded socket (RFC 6455 sections 5-7): frames in
 * through the receiver, out through the sender, and the closing handshake. How it ended
 * is `closed`: the peer's close code (1005 if its close frame had none), or 1006 when the
 * socket went away without a close frame from the peer (RFC 6455 7.1.5).
 * `finished` comes earlier: when nothing more will be exchanged, the closing handshake
 * complete or the connection failed, while the TCP connection may still be winding down.
 *
 * A server holds thousands of these, so an idle one is kept small: the receiver reports to
 * the connection's own methods, the owner is told through one shared listener, the socket's
 * listeners are shared functions, and the two promises exist only once someone asks.
 */
export class Connection implements ReceiverHandlers {
  private readonly listener: ConnectionListener;
  private stateValue: ConnectionState = 'open';
  private readonly receiver: Receiver;
  private readonly sender: Sender;
  private readonly isServer: boolean;
  private readonly closeTimeout: number;
  private readonly closeLinger: number;
  private readonly pongBacklogLimit: number;
  private closeSent = false;
  private received: CloseInfo | undefined;
  /** Set once the connection has finished: the code `finished` reported. */
  private finishCode: number | undefined;
  private closedInfo: CloseInfo | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private closedPromise: Promise<CloseInfo> | undefined;
  private resolveClosed: ((info: CloseInfo) => void) | undefined;
  private finishedPromise: Promise<void> | undefined;
  private resolveFinished: (() => void) | undefined;
  /** Messages and pings handled from the chunk being read (the socket is corked from the second on). */
  private repliesInChunk = 0;
  private readonly deflate: PerMessageDeflate | undefined;
  /**
   * Frames behind a message being compressed: zlib is asynchronous, and nothing may overtake
   * it. Only exists while something is being compressed.
   */
  private outQueue: QueuedFrame[] | undefined;
  private queuedBytes = 0;
  /** The socket is to be ended once the queue has gone out. */
  private endWhenFlushed = false;
  /** The socket was paused while the receiver waits for zlib. */
  private pausedForInflate = false;

  constructor(
    readonly socket: Socket,
    options: ConnectionOptions,
  ) {
    this.isServer = options.role === 'server';
    this.listener = options.listener ?? NO_LISTENER;
    this.closeTimeout = options.closeTimeout ?? CLOSE_TIMEOUT;
    this.closeLinger = options.closeLinger ?? CLOSE_LINGER;
    this.pongBacklogLimit = options.pongBacklogLimit ?? Number.POSITIVE_INFINITY;
    this.sender = new Sender(socket, !this.isServer);
    this.deflate = options.deflate;
    this.receiver = new Receiver({ role: options.role, maxPayload: options.maxPayload, deflate: this.deflate }, this);
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** How the connection ended, once the socket is closed. */
  get closed(): Promise<CloseInfo> {
    if (this.closedPromise === undefined) {
      const info = this.closedInfo;
      this.closedPromise =
        info !== undefined
          ? Promise.resolve(info)
          : new Promise((resolve) => {
              this.resolveClosed = resolve;
            });
    }
    return this.closedPromise;
  }

  /** Both close frames exchanged, the connection failed, or the socket gone (see ConnectionListener.finished). */
  get finished(): Promise<void> {
    if (this.finishedPromise === undefined) {
      this.finishedPromise =
        this.finishCode !== undefined
          ? Promise.resolve()
          : new Promise((resolve) => {
              this.resolveFinished = resolve;
            });
    }
    return this.finishedPromise;
  }

  /** Bytes written and not yet handed to the kernel: the room's outbound measure. */
  get bufferedAmount(): number {
    return this.socket.writableLength + this.queuedBytes;
  }

  /** The negotiated permessage-deflate, if any. */
  get compression(): PerMessageDeflate | undefined {
    return this.deflate;
  }

  /** Starts reading; `head` is what arrived after the handshake head (already frames). */
  start(head: Buffer): void {
    const socket = this.socket as OwnedSocket;
    socket[kConnection] = this;
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.once('close', onSocketClose);
    // A socket that died between the handshake and here will never emit 'close' again.
    if (socket.destroyed) process.nextTick(() => this.ended());
    else if (head.length > 0) this.receive(head);
  }

  /** @internal The socket's bytes (see onSocketData). */
  receive(chunk: Buffer): void {
    this.repliesInChunk = 0;
    try {
      this.receiver.push(chunk);
    } catch (error) {
      // The receiver never throws on input; a throwing handler is a bug in this process.
      // It costs this one connection (1011), never the process.
      this.listener.handlerError?.(this, error);
      this.close(CloseCode.internalError, 'internal error');
      this.terminate();
    } finally {
      if (this.repliesInChunk > 1) this.socket.uncork();
    }
    if (this.receiver.waiting) this.pauseForInflate();
  }

  /** @internal ReceiverHandlers: the rest of the input after an inflate, guarded like `receive`. */
  onResume(resume: () => void): void {
    this.repliesInChunk = 0;
    try {
      resume();
    } catch (error) {
      this.listener.handlerError?.(this, error);
      this.close(CloseCode.internalError, 'internal error');
      this.terminate();
    } finally {
      if (this.repliesInChunk > 1) this.socket.uncork();
    }
    if (this.receiver.waiting) this.pauseForInflate();
  }

  /** @internal ReceiverHandlers */
  onDrained(): void {
    if (!this.pausedForInflate) return;
    this.pausedForInflate = false;
    this.socket.resume();
  }

  private pauseForInflate(): void {
    if (this.pausedForInflate) return;
    this.pausedForInflate = true;
    this.socket.pause();
  }

  /**
   * Before each message's handler and each pong: the first reply of a chunk goes out at once,
   * in one write; from a second message or ping in the same chunk on (pipelined requests) the
   * socket is corked, so their replies leave together in one writev at the chunk's end instead
   * of a syscall each.
   */
  private beforeReply(): void {
    if (++this.repliesInChunk === 2) this.socket.cork();
  }

  /** @internal ReceiverHandlers */
  onText(text: string): void {
    this.beforeReply();
    this.listener.text?.(this, text);
  }

  /** @internal ReceiverHandlers */
  onBinary(data: Buffer): void {
    this.beforeReply();
    this.listener.binary?.(this, data);
  }

  /** @internal ReceiverHandlers */
  onPing(data: Buffer): void {
    if (this.closeSent || this.socket.writableLength > this.pongBacklogLimit) return;
    // A pong is a reply too: many pings in one chunk leave in one writev, like many messages.
    this.beforeReply();
    this.write(Opcode.pong, data);
  }

  /** @internal ReceiverHandlers */
  onPong(data: Buffer): void {
    this.listener.pong?.(this, data);
  }

  /** @internal ReceiverHandlers: a valid close frame from the peer. */
  onClose(code: number, reason: string): void {
    this.received = { code, reason };
    if (!this.closeSent) {
      // Echo the peer's code (RFC 6455 5.5.1); an empty close is answered with an empty one.
      this.sendClose(code === CloseCode.noStatus ? undefined : code);
    }
    this.stateValue = 'closing';
    this.finish(code);
    // Both close frames are out: the server closes TCP first (RFC 6455 7.1.1); the client
    // waits for that, a bounded time.
    if (this.isServer) this.endAndLinger();
    else this.armCloseTimer();
  }

  /** @internal ReceiverHandlers: a protocol violation. */
  onError(error: ProtocolError): void {
    // Fail the connection (RFC 6455 7.1.7): a close with the reason, then no more reading.
    this.listener.violation?.(this, error);
    if (!this.closeSent) this.sendClose(error.code, closeReasonFor(error.code) ?? error.reason);
    this.stateValue = 'closing';
    this.finish(error.code);
    this.endAndLinger();
  }

  sendText(text: string): void {
    if (this.stateValue !== 'open') return;
    const deflate = this.deflate;
    // text.length is a lower bound of the UTF-8 length, 3 x text.length an upper one.
    if (
      deflate !== undefined &&
      text.length * 3 >= deflate.threshold &&
      (text.length >= deflate.threshold || Buffer.byteLength(text) >= deflate.threshold)
    ) {
      this.sendCompressed(Opcode.text, Buffer.from(text));
      return;
    }
    this.write(Opcode.text, text);
  }

  sendBinary(data: Uint8Array): void {
    if (this.stateValue !== 'open') return;
    if (this.deflate !== undefined && data.length >= this.deflate.threshold) {
      this.sendCompressed(Opcode.binary, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      return;
    }
    this.write(Opcode.binary, data);
  }

  /** A frame already encoded for many connections (server only: server frames are unmasked). */
  sendFrame(frame: Buffer): void {
    if (this.stateValue !== 'open') return;
    if (this.outQueue !== undefined) this.enqueue({ frame, done: true, bytes: frame.length });
    else this.sender.sendFrame(frame);
  }

  /**
   * A frame being compressed once for many connections (a broadcast): it goes out in this
   * connection's order once done. The caller calls `flushQueued` on every waiter then.
   */
  sendShared(shared: QueuedFrame): void {
    if (this.stateValue !== 'open') return;
    shared.waiters?.push(this);
    this.enqueue(shared);
  }

  /** @internal Writes what is ready at the head of the outgoing queue. */
  flushQueued(): void {
    const queue = this.outQueue;
    if (queue === undefined) return;
    while (queue.length > 0) {
      const head = queue[0]!;
      if (!head.done) return;
      queue.shift();
      this.queuedBytes -= head.bytes;
      if (head.frame !== undefined && this.socket.writable) this.sender.sendFrame(head.frame);
    }
    this.outQueue = undefined;
    this.queuedBytes = 0;
    if (this.endWhenFlushed) {
      this.endWhenFlushed = false;
      this.endAndLinger();
    }
  }

  private enqueue(item: QueuedFrame): void {
    if (this.outQueue === undefined) this.outQueue = [item];
    else this.outQueue.push(item);
    this.queuedBytes += item.bytes;
  }

  /** One message through zlib, in order with everything sent before and after it. */
  private sendCompressed(opcode: number, data: Buffer): void {
    const item: QueuedFrame = { frame: undefined, done: false, bytes: data.length };
    this.enqueue(item);
    const mask = !this.isServer;
    this.deflate!.compress(data, (error, payload) => {
      item.done = true;
      // zlib does not fail on valid input; should it, the message still goes, uncompressed.
      item.frame =
        error === undefined ? encodeCompressedFrame(opcode, payload, mask) : encodeFrame(opcode, data, true, mask);
      this.flushQueued();
    });
  }

  /** A frame, straight to the sender unless compressed messages are still queued. */
  private write(opcode: number, payload: string | Uint8Array): void {
    if (this.outQueue === undefined) {
      this.sender.send(opcode, payload);
      return;
    }
    const frame = encodeFrame(opcode, payload, true, !this.isServer);
    this.enqueue({ frame, done: true, bytes: frame.length });
  }

  ping(data: Uint8Array = EMPTY): void {
    if (this.stateValue === 'open') this.write(Opcode.ping, data);
  }

  /**
   * Starts the closing handshake (RFC 6455 7.1.2); the socket is destroyed if it stalls.
   * A code that may not go on the wire, or a reason over 123 bytes (or one without a code), is
   * a RangeError here, before anything changes: the connection stays open.
   */
  close(code?: number, reason?: string): void {
    checkCloseArguments(code, reason);
    if (this.stateValue !== 'open') return;
    this.stateValue = 'closing';
    this.sendClose(code, reason);
    this.armCloseTimer();
  }

  /** Ends the TCP connection now, without a handshake; what is corked is flushed first. */
  terminate(): void {
    // Nothing more is delivered, not even the rest of the chunk being read.
    this.receiver.stop();
    this.outQueue = undefined;
    this.queuedBytes = 0;
    while (this.socket.writableCorked > 0) this.socket.uncork();
    this.socket.destroy();
  }

  private sendClose(code: number | undefined, reason?: string): void {
    this.closeSent = true;
    if (this.socket.writable) this.write(Opcode.close, closePayload(code, reason));
  }

  private finish(code: number): void {
    if (this.finishCode !== undefined) return;
    this.finishCode = code;
    this.resolveFinished?.();
    this.listener.finished?.(this, code);
  }

  /**
   * This side is done: FIN now, then destroy once the peer has been silent for the linger time
   * (its FIN closes the socket sooner), within the closing-handshake timeout in any case.
   */
  private endAndLinger(): void {
    if (this.outQueue !== undefined) {
      // The close frame is queued behind a compression: end once it is out.
      this.endWhenFlushed = true;
      this.armCloseTimer();
      return;
    }
    this.socket.end();
    this.socket.setTimeout(this.closeLinger, () => this.socket.destroy());
    this.armCloseTimer();
  }

  private armCloseTimer(): void {
    if (this.closeTimer || this.stateValue === 'closed') return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.closeTimeout);
    this.closeTimer.unref();
  }

  /** @internal The socket closed (see onSocketClose). */
  ended(): void {
    if (this.stateValue === 'closed') return;
    clearTimeout(this.closeTimer);
    this.stateValue = 'closed';
    this.receiver.stop();
    this.outQueue = undefined;
    this.queuedBytes = 0;
    this.deflate?.release();
    const info = this.received ?? { code: CloseCode.abnormal, reason: '' };
    this.finish(info.code);
    this.closedInfo = info;
    this.resolveClosed?.(info);
    this.listener.closed?.(this, info);
  }
}

const EMPTY = Buffer.alloc(0);

/** RFC 6455 5.5.1 and 7.4: what `close(code, reason)` may put in a close frame. */
function checkCloseArguments(code: number | undefined, reason: string | undefined): void {
  if (code === undefined) {
    if (reason) throw new RangeError('a close reason needs a close code');
    return;
  }
  if (!Number.isInteger(code) || !isValidWireCloseCode(code)) {
    throw new RangeError(`close code ${code} may not be sent (1000-1003, 1007-1014 or 3000-4999)`);
  }
  if (reason !== undefined && Buffer.byteLength(reason) > MAX_CLOSE_REASON) {
    throw new RangeError(`a close reason must be at most ${MAX_CLOSE_REASON} bytes of UTF-8`);
  }
}

const MAX_CLOSE_REASON = 123;
