import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { CLOSE_LINGER, CloseCode, closeReasonFor, isValidWireCloseCode } from '@socketlab/contract';
import type websocket from 'websocket';
import {
  closeCodeOf,
  failedToParse,
  frameBeingParsed,
  hasOneByteClosePayload,
  headerBytesOf,
  interceptFrames,
  mappingCloseCodes,
} from './internals.js';

/**
 * What WebSocket-Node 1.0.35 lets through or gets wrong, fixed per connection without
 * forking the library: `hardenConnection` installs every fix. Each is listed in the package
 * README under "Gaps"; the library internals they use are in internals.ts.
 */

type Connection = websocket.connection;

export interface HardeningOptions {
  /** The longest a dropped connection keeps reading its peer's last bytes (the shutdown timeout). */
  lingerMs: number;
  /** Sockets still draining after a drop or a closing handshake, for the shutdown to destroy. */
  lingering: Set<Socket>;
  /** Called once the closing handshake is done, before the peer's FIN: the connection is over. */
  onClosingHandshakeDone: () => void;
}

/**
 * Installs every fix on a connection the library just accepted. Each patch wraps the method as
 * it finds it, so a later one runs first, and the order matters twice:
 * - `processFrame`: `finishOnClosingHandshake`, then `enforceClientFrameRules` around it. A frame
 *   the rules refuse is dropped before the library sees it, so it never counts as the end of a
 *   closing handshake.
 * - `drop`: `lingerOnDrop`, then `sendContractCloseReasons`, then `reportOversizeLengthAsTooBig`
 *   around both, so the 1009 it puts in place of the library's 1002 gets 1009's reason and still
 *   goes out through the lingering drop. Drops from the frame rules look `connection.drop` up
 *   when they happen, so they go through all three.
 */
export function hardenConnection(connection: Connection, options: HardeningOptions): void {
  finishOnClosingHandshake(connection, options.lingering, options.onClosingHandshakeDone);
  enforceClientFrameRules(connection);
  lingerOnDrop(connection, options.lingerMs, options.lingering);
  sendContractCloseReasons(connection);
  reportOversizeLengthAsTooBig(connection);
}

/**
 * The library drops a connection with a sentence of its own ("Maximum message size exceeded.");
 * the contract's endpoints send one reason per code, the same on every adapter
 * (`closeReasonFor`). Codes without one keep the library's words.
 */
function sendContractCloseReasons(connection: Connection): void {
  const drop = connection.drop.bind(connection);
  connection.drop = (reasonCode, description, skipCloseFrame) =>
    drop(
      reasonCode,
      (reasonCode === undefined ? undefined : closeReasonFor(reasonCode)) ?? description,
      skipCloseFrame,
    );
}

const CLOSE_OPCODE = 0x08;

interface Violation {
  code: number;
  reason: string;
}

/**
 * The checks the library skips on a frame from a client (RFC 6455 5.1, 5.5.1, 7.4):
 * it never enforces masking (upstream issue #226), answers a close frame carrying the
 * reserved code 1015 with 1000, and validates a close reason's UTF-8 only after it has
 * accepted the code. Everything else (RSV bits, opcodes, control frame size and
 * fragmentation, continuation order, text UTF-8, frame and message limits) it checks itself.
 */
export function clientFrameViolation(frame: websocket.frame): Violation | undefined {
  if (!frame.mask) return { code: CloseCode.protocolError, reason: 'client frames must be masked' };
  if (frame.opcode !== CLOSE_OPCODE) return undefined;
  if (hasOneByteClosePayload(frame)) {
    return { code: CloseCode.protocolError, reason: 'a close frame payload cannot be one byte' };
  }
  // A close frame without a code is allowed.
  const code = closeCodeOf(frame);
  if (code !== undefined && !isValidWireCloseCode(code)) {
    return { code: CloseCode.protocolError, reason: `close code ${code} is not allowed on the wire` };
  }
  if (!isUtf8(frame.binaryPayload)) {
    return { code: CloseCode.invalidPayload, reason: 'close reason is not valid UTF-8' };
  }
  return undefined;
}

/**
 * Puts `clientFrameViolation` in front of the library's own frame handling, and makes the
 * answer to a peer's close echo its code (RFC 6455 5.5.1, as ws and net do): the library
 * answers every valid close with 1000.
 */
function enforceClientFrameRules(connection: Connection): void {
  interceptFrames(connection, (frame, next) => {
    const violation = clientFrameViolation(frame);
    if (violation) {
      connection.drop(violation.code, violation.reason);
      return;
    }
    const echoed = frame.opcode === CLOSE_OPCODE ? closeCodeOf(frame) : undefined;
    if (echoed === undefined) {
      next(frame);
      return;
    }
    mappingCloseCodes(
      connection,
      (code) => (code === CloseCode.normal ? echoed : code),
      () => next(frame),
    );
  });
}

/** RFC 6455 5.2: a second length byte of 127 means a 64-bit extended payload length follows. */
const LENGTH_64_BIT_MARKER = 127;

/**
 * True when the frame being parsed claims a 64-bit payload length of 2^32 or more. The
 * library cannot represent such a length and refuses the frame as a protocol error (1002,
 * 'Unsupported 64-bit length frame received'); it is a frame over any size limit, and the
 * contract (section 4) closes that with 1009, as ws and net do. The header bytes are the
 * ones the library parsed: byte 1 holds the 7-bit length, bytes 2-9 the extended length.
 */
export function claimsLengthOver32Bits(frame: websocket.frame): boolean {
  const header = headerBytesOf(frame);
  return (
    failedToParse(frame) &&
    header.length >= 10 &&
    ((header[1] ?? 0) & 0x7f) === LENGTH_64_BIT_MARKER &&
    header.readUInt32BE(2) !== 0
  );
}

/**
 * Makes the library's drop of a frame with a length of 2^32 or more a 1009 instead of a 1002
 * (see `claimsLengthOver32Bits`). The library drops it on the next tick after parsing the
 * header, before it reads any more input, so `currentFrame` is still that frame.
 */
function reportOversizeLengthAsTooBig(connection: Connection): void {
  const drop = connection.drop.bind(connection);
  connection.drop = (reasonCode, description, skipCloseFrame) => {
    if (reasonCode === CloseCode.protocolError && claimsLengthOver32Bits(frameBeingParsed(connection))) {
      drop(CloseCode.messageTooBig, 'frame length over 2^32 - 1', skipCloseFrame);
    } else {
      drop(reasonCode, description, skipCloseFrame);
    }
  };
}

/**
 * The library's `drop()` writes its close frame and destroys the socket in the same tick.
 * A peer still sending (a client mid-way through an over-limit message) then gets a TCP
 * reset that can overtake the close frame, so it sees 1006 instead of 1009 or 1002. Like
 * ws, keep reading and discarding after the close frame and let the peer finish the
 * closing handshake; destroy after `lingerMs` at the latest. A drop without a close frame (dead
 * peer, heartbeat, terminate) still destroys at once.
 */
function lingerOnDrop(connection: Connection, lingerMs: number, lingering: Set<Socket>): void {
  const libraryDrop = connection.drop.bind(connection);
  connection.drop = (reasonCode, description, skipCloseFrame) => {
    const { socket } = connection;
    if (skipCloseFrame || socket.destroyed) {
      libraryDrop(reasonCode, description, skipCloseFrame);
      return;
    }
    const destroy = socket.destroy;
    // The library ends its drop() with socket.destroy(): for this one call it becomes a no-op.
    socket.destroy = () => socket;
    try {
      libraryDrop(reasonCode, description, false);
    } finally {
      socket.destroy = destroy;
    }
    linger(socket, lingerMs, lingering);
  };
}

/**
 * WebSocket-Node emits `close` only when the socket closes. After a completed closing handshake
 * it has ended TCP (RFC 6455 7.1.1) and then waits, with no timer of its own, for the peer's
 * FIN: a peer that never sends it stays until the keepalive gives up on it. This calls
 * `finished` when a close frame the library handled completed the handshake (it answered the
 * peer's close, or it was the answer to ours): exactly when the library has ended the socket
 * by then. The socket then lingers like a dropped one, `CLOSE_LINGER` of silence at most.
 */
function finishOnClosingHandshake(connection: Connection, lingering: Set<Socket>, finished: () => void): void {
  interceptFrames(connection, (frame, next) => {
    next(frame);
    const { socket } = connection;
    if (frame.opcode !== CLOSE_OPCODE || !socket.writableEnded || socket.destroyed || lingering.has(socket)) return;
    finished();
    socket.setTimeout(CLOSE_LINGER, () => socket.destroy());
    lingering.add(socket);
    socket.once('close', () => lingering.delete(socket));
  });
}

/**
 * `lingering` holds the sockets still draining, so a server shutting down can destroy them.
 * A peer silent for `CLOSE_LINGER` goes sooner than `lingerMs`.
 */
function linger(socket: Socket, lingerMs: number, lingering: Set<Socket>): void {
  // The library's own data handler would keep buffering input it will never parse.
  socket.removeAllListeners('data');
  socket.on('data', () => {});
  socket.resume();
  socket.end();
  socket.setTimeout(CLOSE_LINGER, () => socket.destroy());
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  lingering.add(socket);
  socket.once('close', () => {
    clearTimeout(timer);
    lingering.delete(socket);
  });
}
