import { randomFillSync } from 'node:crypto';
import type { Socket } from 'node:net';
import { COPY_THRESHOLD, Opcode } from './constants.js';
import { copyMasked, type MaskKey, mask as maskBytes } from './mask.js';

/*
 * RFC 6455 section 5.2 framing: the smallest header that fits (7, 16 or 64-bit length),
 * FIN set unless fragmenting, RSV1 only on a compressed message (permessage-deflate), and a fresh
 * mask key on every client frame.
 */

/** Mask keys come from a pool filled by node:crypto, 2,048 keys per fill. */
const KEY_POOL_SIZE = 8 * 1024;
const keyPool = Buffer.allocUnsafe(KEY_POOL_SIZE);
let keyOffset = KEY_POOL_SIZE;

function nextMaskKey(): MaskKey {
  if (keyOffset === KEY_POOL_SIZE) {
    randomFillSync(keyPool);
    keyOffset = 0;
  }
  const key = keyPool.readUInt32LE(keyOffset);
  keyOffset += 4;
  return key;
}

/** Strings whose frame still fits a slice of Node's 8 KiB buffer pool are framed into one buffer. */
const STRING_COPY_THRESHOLD = 4 * 1024 - 10;

/** Unmasked strings up to this many UTF-16 units are framed in one pass (see Sender.sendStringOnePass). */
const ONE_PASS_STRING = 64 * 1024;
/** An unmasked header with a 64-bit length. */
const LONGEST_SERVER_HEADER = 10;
/** Room for the longest header and the largest UTF-8 encoding of such a string (3 bytes per UTF-16 unit). */
const SCRATCH_SIZE = LONGEST_SERVER_HEADER + 3 * ONE_PASS_STRING;
let scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);

export function headerSize(length: number, masked: boolean): number {
  return 2 + (length < 126 ? 0 : length < 0x1_0000 ? 2 : 8) + (masked ? 4 : 0);
}

/** Writes a frame header into `target` at `at`; returns where the payload starts. */
export function writeHeader(
  target: Buffer,
  opcode: number,
  fin: boolean,
  length: number,
  maskKey: MaskKey | undefined,
  at = 0,
): number {
  target[at] = (fin ? 0x80 : 0) | opcode;
  const maskBit = maskKey === undefined ? 0 : 0x80;
  let offset: number;
  if (length < 126) {
    target[at + 1] = maskBit | length;
    offset = at + 2;
  } else if (length < 0x1_0000) {
    target[at + 1] = maskBit | 126;
    target[at + 2] = length >>> 8;
    target[at + 3] = length & 0xff;
    offset = at + 4;
  } else {
    target[at + 1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(length / 0x1_0000_0000), at + 2);
    target.writeUInt32BE(length >>> 0, at + 6);
    offset = at + 10;
  }
  if (maskKey !== undefined) {
    target.writeUInt32LE(maskKey, offset);
    offset += 4;
  }
  return offset;
}

/**
 * One whole frame in one allocation: header and payload (a string is encoded straight
 * into it), masked when `mask`. The broadcast path builds this once for all recipients.
 */
export function encodeFrame(opcode: number, payload: string | Uint8Array, fin = true, mask = false): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  return encodeFrameOfLength(opcode, payload, length, fin, mask);
}

function encodeFrameOfLength(
  opcode: number,
  payload: string | Uint8Array,
  length: number,
  fin: boolean,
  mask: boolean,
): Buffer {
  const key = mask ? nextMaskKey() : undefined;
  const frame = Buffer.allocUnsafe(headerSize(length, mask) + length);
  const offset = writeHeader(frame, opcode, fin, length, key);
  if (typeof payload === 'string') {
    frame.write(payload, offset, 'utf8');
    if (key !== undefined) maskBytes(frame, key, offset, offset + length);
  } else if (key !== undefined) {
    // Masked on the way in: one pass over the payload instead of a copy then a mask.
    copyMasked(asBuffer(payload), 0, length, frame, offset, key);
  } else {
    frame.set(payload, offset);
  }
  return frame;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** RFC 7692 6: RSV1 on the first frame of a compressed message. */
export const RSV1 = 0x40;

/** A whole compressed message as one frame: RSV1 set (the payload is already DEFLATE, tail removed). */
export function encodeCompressedFrame(opcode: number, payload: Uint8Array, mask = false): Buffer {
  const frame = encodeFrameOfLength(opcode, payload, payload.length, true, mask);
  frame[0] = (frame[0] as number) | RSV1;
  return frame;
}

/** A close frame's payload (RFC 6455 5.5.1): the code, then a UTF-8 reason of at most 123 bytes. */
export function closePayload(code: number | undefined, reason = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const payload = Buffer.allocUnsafe(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  if (payload.length > 125) throw new RangeError('a close reason must be at most 123 bytes');
  return payload;
}

/**
 * Frames onto one socket. A small payload is one allocation (from Node's buffer pool) and
 * one write. A big unmasked payload is header + payload in one corked writev: a buffer is
 * not copied, and a string is encoded by the socket itself, with no JS-heap buffer for it.
 */
export class Sender {
  /**
   * Whether a write can go straight to the kernel, so the shared scratch is free again once it
   * returned. Not on TLS: the TLS layer keeps every written buffer until its write completes,
   * later, so each frame would leave the scratch behind and allocate a new one.
   */
  private readonly writesThrough: boolean;

  constructor(
    private readonly socket: Socket,
    private readonly mask: boolean,
  ) {
    this.writesThrough = !mask && (socket as Socket & { encrypted?: boolean }).encrypted !== true;
  }

  send(opcode: number, payload: string | Uint8Array, fin = true): void {
    const isString = typeof payload === 'string';
    if (isString && this.writesThrough && payload.length <= ONE_PASS_STRING && this.socket.writableLength === 0) {
      this.sendStringOnePass(opcode, payload, fin);
      return;
    }
    const length = isString ? Buffer.byteLength(payload) : payload.length;
    if (this.mask || length <= (isString ? STRING_COPY_THRESHOLD : COPY_THRESHOLD)) {
      this.socket.write(encodeFrameOfLength(opcode, payload, length, fin, this.mask));
      return;
    }
    const header = Buffer.allocUnsafe(headerSize(length, false));
    writeHeader(header, opcode, fin, length, undefined);
    this.socket.cork();
    this.socket.write(header);
    if (isString) this.socket.write(payload, 'utf8');
    else this.socket.write(payload);
    this.socket.uncork();
  }

  /**
   * A string in one pass, with no allocation: encoded into a scratch buffer shared by every
   * sender, after room for the longest header, which is then written just before the bytes.
   * `Buffer.byteLength` first would be a second pass over the string (at 16 KiB it cost as
   * much as the rest of the frame), and a fresh buffer per frame is external memory that
   * makes V8 collect more often (a 16 KiB echo cost more CPU with one than without).
   * The caller checked that nothing is queued on the socket, so the write normally goes
   * straight to the kernel; if it did not (the socket is corked, or the kernel took only
   * part), the socket now holds the scratch, and the next frame gets a new one. A socket holds
   * at most one scratch (192 KiB): while anything is queued on it, its frames take the other
   * paths. That is less than what a socket whose peer stopped reading already holds in the
   * kernel's send buffer, and it is released when that write completes.
   */
  private sendStringOnePass(opcode: number, payload: string, fin: boolean): void {
    const buffer = scratch;
    const length = buffer.write(payload, LONGEST_SERVER_HEADER, 'utf8');
    const start = LONGEST_SERVER_HEADER - headerSize(length, false);
    writeHeader(buffer, opcode, fin, length, undefined, start);
    this.socket.write(buffer.subarray(start, LONGEST_SERVER_HEADER + length));
    if (this.socket.writableLength > 0) scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
  }

  /** A frame already encoded (by `encodeFrame`), shared between many sockets. */
  sendFrame(frame: Buffer): void {
    this.socket.write(frame);
  }

  close(code: number | undefined, reason?: string): void {
    this.send(Opcode.close, closePayload(code, reason));
  }
}
