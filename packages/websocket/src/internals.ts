import { Socket } from 'node:net';
import { LibraryInternalsError } from '@socketlab/contract';
import websocket from 'websocket';

/**
 * Every undocumented part of WebSocket-Node 1.0.35 this adapter relies on, each behind one
 * accessor, and the check that they are still there (the package README lists them with the
 * reason for each). The library documents `WebSocketConnection`'s `close`, `drop`, `send*`,
 * `socket` and `connected`, and a frame's `mask`, `opcode` and `binaryPayload`; everything else
 * read or replaced here is its private state, which an upgrade may move. `createServer` and
 * `connect` run `checkConnectionInternals` first and fail naming what moved, instead of
 * silently losing a fix. The check tests shapes, as engine.io's `_canSendPreEncodedFrame` does;
 * what the fixes do with them is covered by the tests of each gap.
 */

type Connection = websocket.connection;
type Frame = websocket.frame;

/** The handling of one complete frame read from the socket. */
export type FrameHandler = (frame: Frame) => void;

/**
 * Puts `handler` in front of the library's handling of every complete frame (its private
 * `processFrame`, which it calls on the tick after parsing a frame). `next` is the handling
 * installed before: the library's own, or an earlier `interceptFrames`.
 */
export function interceptFrames(connection: Connection, handler: (frame: Frame, next: FrameHandler) => void): void {
  const next = connection.processFrame.bind(connection);
  connection.processFrame = (frame) => handler(frame, next);
}

/**
 * Runs `fn` with every close frame the library sends meanwhile carrying `codeFor(code)` instead
 * of `code` (its private `sendCloseFrame`, through which its own close answers go).
 */
export function mappingCloseCodes(
  connection: Connection,
  codeFor: (code: number | undefined) => number | undefined,
  fn: () => void,
): void {
  const sendCloseFrame = connection.sendCloseFrame;
  connection.sendCloseFrame = (code, text, cb) => sendCloseFrame.call(connection, codeFor(code), text, cb);
  try {
    fn();
  } finally {
    connection.sendCloseFrame = sendCloseFrame;
  }
}

/** The frame the library is parsing now (its private `currentFrame`, replaced once a frame is complete). */
export function frameBeingParsed(connection: Connection): Frame {
  return connection.currentFrame;
}

/** The code of a close frame, or undefined when it carried none (the library's private `closeStatus`, -1 then). */
export function closeCodeOf(frame: Frame): number | undefined {
  return frame.closeStatus === -1 ? undefined : frame.closeStatus;
}

/** Whether a close frame's payload was one byte, too short for a code (the library's private `invalidCloseFrameLength`). */
export function hasOneByteClosePayload(frame: Frame): boolean {
  return frame.invalidCloseFrameLength;
}

/** Whether the library refused the frame while parsing its header (its private `protocolError`). */
export function failedToParse(frame: Frame): boolean {
  return frame.protocolError;
}

/**
 * The header bytes the library parsed for the frame (its private `frameHeader`, a 10-byte buffer
 * the connection reuses for every frame): byte 1 holds the 7-bit length, bytes 2-9 an extended one.
 */
export function headerBytesOf(frame: Frame): Buffer {
  return frame.frameHeader;
}

/** The one WebSocket-Node version this adapter is written for, as the error names it. */
const LIBRARY = 'WebSocket-Node 1.0.35';

function missing(internal: string, usedFor: string): LibraryInternalsError {
  return new LibraryInternalsError(
    `${LIBRARY} internal missing: ${internal}, used for ${usedFor}. A library upgrade moved it ` +
      `(installed: ${websocket.version}); see "Private internals" in the @socketlab/websocket README`,
  );
}

/** One private member, how to tell it is there, and what needs it (for the error). */
interface Expectation {
  internal: string;
  usedFor: string;
  /** Whether the client reads it too (the server reads all of them). */
  client: boolean;
  present: (connection: Connection, frame: Partial<Frame>) => boolean;
}

const EXPECTED: readonly Expectation[] = [
  {
    internal: 'connection "processFrame" (the handling of each frame read)',
    usedFor: "the client frame rules, the close code echo, leaving at the closing handshake, the client's close code",
    client: true,
    present: (connection) => typeof connection.processFrame === 'function',
  },
  {
    internal: 'connection "sendCloseFrame"',
    usedFor: "echoing the peer's close code",
    client: false,
    present: (connection) => typeof connection.sendCloseFrame === 'function',
  },
  {
    // The third parameter lets a drop without a close frame still destroy at once.
    internal: 'connection "drop(reasonCode, description, skipCloseFrame)"',
    usedFor: 'lingering after a drop, 1009 for a 64-bit length',
    client: false,
    present: (connection) => typeof connection.drop === 'function' && connection.drop.length >= 3,
  },
  {
    internal: 'connection "currentFrame" (the frame being parsed)',
    usedFor: '1009 for a 64-bit length, and checking the frame fields below',
    client: true,
    present: (connection) => typeof frameBeingParsed(connection) === 'object' && frameBeingParsed(connection) !== null,
  },
  {
    internal: 'frame "closeStatus"',
    usedFor: "the close frame rules, the close code echo, the client's close code",
    client: true,
    present: (_, frame) => typeof frame.closeStatus === 'number',
  },
  {
    internal: 'frame "invalidCloseFrameLength"',
    usedFor: 'refusing a one-byte close payload',
    client: false,
    present: (_, frame) => typeof frame.invalidCloseFrameLength === 'boolean',
  },
  {
    internal: 'frame "protocolError"',
    usedFor: '1009 for a 64-bit length',
    client: false,
    present: (_, frame) => typeof frame.protocolError === 'boolean',
  },
  {
    internal: 'frame "frameHeader"',
    usedFor: '1009 for a 64-bit length',
    client: false,
    present: (_, frame) => Buffer.isBuffer(frame.frameHeader),
  },
];

/**
 * Throws a `LibraryInternalsError` naming the first private member of a real connection (and of
 * the frame it is parsing) that `side` relies on and that is not there with the expected type.
 */
export function checkConnectionInternals(connection: Connection, side: 'server' | 'client' = 'server'): void {
  const frame: Partial<Frame> = frameBeingParsed(connection) ?? {};
  for (const expectation of EXPECTED) {
    if ((side === 'server' || expectation.client) && !expectation.present(connection, frame)) {
      throw missing(expectation.internal, expectation.usedFor);
    }
  }
}

/**
 * A real connection to check before any peer exists: the library's own constructor on a socket
 * that never connects. No keepalive, so it starts no timer; nothing is ever written.
 */
export function probeConnection(library: typeof websocket.connection = websocket.connection): Connection {
  // The options the constructor reads; keepalive is a server and client option, not in IConfig.
  const config = { keepalive: false, maxReceivedFrameSize: 0, maxReceivedMessageSize: 0, closeTimeout: 0 };
  return new library(new Socket(), [], 'probe', false, config);
}
