/** RFC 6455 section 5.2 opcodes. */
export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 6455 section 1.3: appended to the client's key before SHA-1 to make the accept key. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 6455 section 5.5: control frames carry at most 125 payload bytes. */
export const MAX_CONTROL_PAYLOAD = 125;

/** Largest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of mask key. */
export const MAX_HEADER_SIZE = 14;

/**
 * Payloads up to this size are copied into the frame's single allocation (one write);
 * bigger ones go out as header + payload in one corked writev, without the copy.
 */
export const COPY_THRESHOLD = 16 * 1024;

/** How long a closing handshake may take before the socket is destroyed. */
export const CLOSE_TIMEOUT = 5_000;

/** The client's default largest incoming message, as in ws (100 MiB). */
export const CLIENT_MAX_PAYLOAD = 100 * 1024 * 1024;
