import type { Socket } from 'node:net';
import { CloseCode, type CloseInfo } from '@socketlab/contract';
import { CLOSE_LINGER, CLOSE_TIMEOUT, Opcode } from './constants.js';
import { type ProtocolError, Receiver } from './receiver.js';
import { Sender } from './sender.js';

export type ConnectionState = 'open' | 'closing' | 'closed';

export interface ConnectionOptions {
  role: 'server' | 'client';
  maxPayload: number;
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
}

const noop = (): void => {};

/**
 * One WebSocket connection over an upgraded socket (RFC 6455 sections 5-7): frames in
 * through the receiver, out through the sender, and the closing handshake. How it ended
 * is `closed`: the peer's close code (1005 if its close frame had none), or 1006 when the
 * socket went away without a close frame from the peer (RFC 6455 7.1.5).
 * `finished` comes earlier: when nothing more will be exchanged, the closing handshake
 * complete or the connection failed, while the TCP connection may still be winding down.
 */
export class Connection {
  /** Set by the owner before `start`. */
  onMessage: (data: Buffer, isBinary: boolean) => void = noop;
  onPong: (data: Buffer) => void = noop;
  /** A message or pong handler threw; the connection has been failed with 1011. */
  onHandlerError: (error: unknown) => void = noop;

  readonly closed: Promise<CloseInfo>;
  /**
   * Both close frames exchanged, the connection failed, or the socket gone: the connection has
   * ended from the protocol's point of view (a room's `leave` goes out here, not when a peer
   * that never sends its FIN is finally destroyed).
   */
  readonly finished: Promise<void>;
  private resolveClosed!: (info: CloseInfo) => void;
  private resolveFinished!: () => void;
  private stateValue: ConnectionState = 'open';
  private readonly receiver: Receiver;
  private readonly sender: Sender;
  private readonly isServer: boolean;
  private readonly closeTimeout: number;
  private readonly closeLinger: number;
  private readonly pongBacklogLimit: number;
  private closeSent = false;
  private received: CloseInfo | undefined;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    options: ConnectionOptions,
  ) {
    this.isServer = options.role === 'server';
    this.closeTimeout = options.closeTimeout ?? CLOSE_TIMEOUT;
    this.closeLinger = options.closeLinger ?? CLOSE_LINGER;
    this.pongBacklogLimit = options.pongBacklogLimit ?? Number.POSITIVE_INFINITY;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
    this.sender = new Sender(socket, !this.isServer);
    this.receiver = new Receiver(
      { role: options.role, maxPayload: options.maxPayload },
      {
        onMessage: (data, isBinary) => this.onMessage(data, isBinary),
        onPing: (data) => {
          if (!this.closeSent && socket.writableLength <= this.pongBacklogLimit) this.sender.send(Opcode.pong, data);
        },
        onPong: (data) => this.onPong(data),
        onClose: (code, reason) => this.peerClosed(code, reason),
        onError: (error) => this.protocolError(error),
      },
    );
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Bytes written and not yet handed to the kernel: the room's outbound measure. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Starts reading; `head` is what arrived after the handshake head (already frames). */
  start(head: Buffer): void {
    const { socket } = this;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // A reset or write error is followed by 'close'; that is where the end is handled.
    socket.on('error', noop);
    socket.once('close', () => this.ended());
    // A socket that died between the handshake and here will never emit 'close' again.
    if (socket.destroyed) process.nextTick(() => this.ended());
    else if (head.length > 0) this.receive(head);
  }

  private receive(chunk: Buffer): void {
    const { socket } = this;
    // Replies to everything in one chunk (pipelined requests) leave in one writev, not one
    // syscall each. Bounded by the chunk: the outbound limit still sees it all.
    socket.cork();
    try {
      this.receiver.push(chunk);
    } catch (error) {
      // The receiver never throws on input; a throwing handler is a bug in this process.
      // It costs this one connection (1011), never the process.
      this.onHandlerError(error);
      this.close(CloseCode.internalError, 'internal error');
      this.terminate();
    } finally {
      socket.uncork();
    }
  }

  sendText(text: string): void {
    if (this.stateValue === 'open') this.sender.send(Opcode.text, text);
  }

  sendBinary(data: Uint8Array): void {
    if (this.stateValue === 'open') this.sender.send(Opcode.binary, data);
  }

  /** A frame already encoded for many connections (server only: server frames are unmasked). */
  sendFrame(frame: Buffer): void {
    if (this.stateValue === 'open') this.sender.sendFrame(frame);
  }

  ping(data: Uint8Array = EMPTY): void {
    if (this.stateValue === 'open') this.sender.send(Opcode.ping, data);
  }

  /** Starts the closing handshake (RFC 6455 7.1.2); the socket is destroyed if it stalls. */
  close(code?: number, reason?: string): void {
    if (this.stateValue !== 'open') return;
    this.stateValue = 'closing';
    this.sendClose(code, reason);
    this.armCloseTimer();
  }

  /** Ends the TCP connection now, without a handshake; what is corked is flushed first. */
  terminate(): void {
    while (this.socket.writableCorked > 0) this.socket.uncork();
    this.socket.destroy();
  }

  private sendClose(code: number | undefined, reason?: string): void {
    this.closeSent = true;
    if (this.socket.writable) this.sender.close(code, reason);
  }

  private peerClosed(code: number, reason: string): void {
    this.received = { code, reason };
    if (!this.closeSent) {
      // Echo the peer's code (RFC 6455 5.5.1); an empty close is answered with an empty one.
      this.sendClose(code === CloseCode.noStatus ? undefined : code);
    }
    this.stateValue = 'closing';
    this.resolveFinished();
    // Both close frames are out: the server closes TCP first (RFC 6455 7.1.1); the client
    // waits for that, a bounded time.
    if (this.isServer) this.endAndLinger();
    else this.armCloseTimer();
  }

  private protocolError(error: ProtocolError): void {
    // Fail the connection (RFC 6455 7.1.7): a close with the reason, then no more reading.
    if (!this.closeSent) this.sendClose(error.code, error.reason);
    this.stateValue = 'closing';
    this.resolveFinished();
    this.endAndLinger();
  }

  /**
   * This side is done: FIN now, then destroy once the peer has been silent for the linger time
   * (its FIN closes the socket sooner), within the closing-handshake timeout in any case.
   */
  private endAndLinger(): void {
    this.socket.end();
    this.socket.setTimeout(this.closeLinger, () => this.socket.destroy());
    this.armCloseTimer();
  }

  private armCloseTimer(): void {
    if (this.closeTimer || this.stateValue === 'closed') return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.closeTimeout);
    this.closeTimer.unref();
  }

  private ended(): void {
    if (this.stateValue === 'closed') return;
    clearTimeout(this.closeTimer);
    this.stateValue = 'closed';
    this.resolveFinished();
    this.resolveClosed(this.received ?? { code: CloseCode.abnormal, reason: '' });
  }
}

const EMPTY = Buffer.alloc(0);
