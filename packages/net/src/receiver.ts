import { isUtf8 } from 'node:buffer';
import { CloseCode, isValidWireCloseCode } from '@socketlab/contract';
import { MAX_CONTROL_PAYLOAD, MAX_HEADER_SIZE, Opcode } from './constants.js';
import { copyMasked, type MaskKey, mask } from './mask.js';
import type { InflateResult, PerMessageDeflate } from './permessage-deflate.js';
import { Utf8Validator } from './validation.js';

/**
 * A protocol violation, as a value: the close code to answer with and a short reason
 * (it goes into the close frame, so at most 123 bytes). The receiver never throws on
 * input; every violation becomes one of these, built by `violation` below.
 */
export interface ProtocolError {
  code: typeof CloseCode.protocolError | typeof CloseCode.invalidPayload | typeof CloseCode.messageTooBig;
  reason: string;
}

/** The one place where a kind of violation is mapped to its close code (RFC 6455 7.4.1). */
const violation = {
  /** 1002: the frame breaks the framing rules. */
  protocol: (reason: string): ProtocolError => ({ code: CloseCode.protocolError, reason }),
  /** 1007: text that is not UTF-8. */
  invalidUtf8: (reason: string): ProtocolError => ({ code: CloseCode.invalidPayload, reason }),
  /** 1007: a compressed message that does not inflate. */
  badCompression: (reason: string): ProtocolError => ({ code: CloseCode.invalidPayload, reason }),
  /** 1009: a message over the configured limit, refused before it is buffered. */
  tooBig: (reason: string): ProtocolError => ({ code: CloseCode.messageTooBig, reason }),
};

/**
 * What the receiver reports, in stream order. An object with methods (the connection itself),
 * not a bag of closures: a server holds thousands of receivers, and a closure per event per
 * connection is memory that every idle connection pays for.
 */
export interface ReceiverHandlers {
  /** A whole text message, validated as UTF-8 and decoded. */
  onText(text: string): void;
  /** A whole binary message. */
  onBinary(data: Buffer): void;
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /** A valid close frame; `code` is 1005 when the frame carried none. Nothing follows. */
  onClose(code: number, reason: string): void;
  /** A protocol violation; nothing follows. */
  onError(error: ProtocolError): void;
  /**
   * Runs `resume`, the rest of the input after an asynchronous inflate: the owner wraps it as
   * it wraps `push` (a handler that throws). Without it, `resume` is called directly.
   */
  onResume?(resume: () => void): void;
  /** The receiver has caught up after an inflate: the owner may read from the socket again. */
  onDrained?(): void;
}

export interface ReceiverOptions {
  /** A server requires masked frames (RFC 6455 5.1); a client refuses them. */
  role: 'server' | 'client';
  /** Largest message, summed over its fragments. */
  maxPayload: number;
  /**
   * Most frames one fragmented message may take (default `defaultMaxFragments(maxPayload)`):
   * without a bound, empty continuations keep a message open forever under any size limit.
   */
  maxFragments?: number;
  /** Set when permessage-deflate was negotiated: RSV1 marks a compressed message. */
  deflate?: PerMessageDeflate | undefined;
}

/**
 * One frame per 64 bytes of the limit, and at least 1,024: Autobahn 9.3/9.4 send 4 MiB in
 * 64-byte fragments (65,537 frames), which a 4 MiB limit then takes; a peer that sends empty
 * continuations is cut off after as many frames as 64-byte ones would fill the limit with.
 */
export function defaultMaxFragments(maxPayload: number): number {
  return Math.max(1024, Math.ceil(maxPayload / 64) + 1);
}

const READING_HEAD = 0;
const READING_PAYLOAD = 1;
/** Waiting for zlib: input is queued (and the owner pauses the socket). */
const INFLATING = 2;
const DONE = 3;

/** Header size implied by the second byte: base, extended length, mask key. */
function headSizeFor(secondByte: number): number {
  const length7 = secondByte & 0x7f;
  return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (secondByte & 0x80 ? 4 : 0);
}

/**
 * RFC 6455 section 5 as a state machine over the byte stream: frames may be split at
 * any byte and many may arrive in one chunk. Payloads are unmasked as they arrive and
 * text is UTF-8 checked as it arrives, so a bad byte fails at once. A payload that is
 * whole inside one chunk is unmasked in place and handed on as a view of that chunk:
 * `push` takes ownership of the chunks it is given (a socket's are fresh each time).
 */
export class Receiver {
  private state = READING_HEAD;
  private readonly requireMask: boolean;
  private readonly maxPayload: number;
  private readonly maxFragments: number;
  private readonly deflate: PerMessageDeflate | undefined;
  /** Largest compressed message: the limit itself applies to the inflated bytes; DEFLATE can grow incompressible input a little. */
  private readonly maxCompressed: number;
  /** Input that arrived, or was left, while inflating. */
  private queued: Buffer[] = [];

  /** Header bytes gathered across chunk boundaries: the rare, slow path, allocated when first needed. */
  private headBytes: Buffer | undefined;
  private headLength = 0;

  // The frame being read.
  private fin = false;
  private opcode = 0;
  private masked = false;
  private maskKey: MaskKey = 0;
  private payloadLength = 0;
  private received = 0;
  /** Only allocated when a payload spans chunks. */
  private payload: Buffer | undefined;

  // The message being assembled: its first frame's opcode, 0 when none is open.
  private messageOpcode = 0;
  private messageLength = 0;
  /** Frames of the open message so far. */
  private messageFrames = 0;
  /** The open message came with RSV1: its frames are inflated. */
  private compressed = false;
  /**
   * The fragments so far: big ones as they are (joined once, at the end), small ones copied
   * together into shared scratch buffers. A view per fragment would let a peer that sends a
   * million one-byte fragments pin a million Buffer objects under a 1 MiB limit; this way a
   * message holds at most about two objects per KiB of payload.
   */
  private fragments: Buffer[] = [];
  private scratch: Buffer | undefined;
  private scratchUsed = 0;
  /** Text that arrives in pieces (fragments, or a payload split across chunks) is checked as it comes. */
  private utf8: Utf8Validator | undefined;

  constructor(
    options: ReceiverOptions,
    private readonly handlers: ReceiverHandlers,
  ) {
    this.requireMask = options.role === 'server';
    this.maxPayload = options.maxPayload;
    this.maxFragments = options.maxFragments ?? defaultMaxFragments(options.maxPayload);
    this.deflate = options.deflate;
    this.maxCompressed = options.maxPayload + 1024 + Math.ceil(options.maxPayload / 1024);
  }

  /** True while a compressed frame is being inflated: input is queued until it is done. */
  get waiting(): boolean {
    return this.state === INFLATING;
  }

  /** Stops for good: nothing more is parsed or reported (the connection was terminated). */
  stop(): void {
    this.finish();
  }

  /** True once a close frame or a violation ended the stream: further input is ignored. */
  get done(): boolean {
    return this.state === DONE;
  }

  push(chunk: Buffer): void {
    if (this.state >= INFLATING) {
      if (this.state === INFLATING) this.queued.push(chunk);
      return;
    }
    this.consume(chunk);
  }

  private consume(chunk: Buffer): void {
    const end = chunk.length;
    let offset = 0;
    while (offset < end && this.state <= READING_PAYLOAD) {
      if (this.state === READING_PAYLOAD) {
        offset = this.readPayload(chunk, offset, end);
        continue;
      }
      if (this.headLength === 0 && end - offset >= 2) {
        const small = this.smallText(chunk, offset, end);
        if (small > offset) {
          offset = small;
          continue;
        }
        // Fast path: the whole header is in this chunk; parse it where it lies.
        const size = headSizeFor(chunk[offset + 1] as number);
        if (end - offset >= size) {
          this.readHead(chunk, offset);
          offset += size;
          continue;
        }
      }
      offset = this.gatherHead(chunk, offset, end);
    }
    if (this.state === INFLATING && offset < end) this.queued.unshift(chunk.subarray(offset));
  }

  /**
   * The common frame in one step: a final text frame under 126 bytes, masked as the role
   * requires, with no fragmented message open, whole inside this chunk. Everything the
   * general path would check is implied by the first two bytes matching; the payload is
   * unmasked in place and decoded straight from the chunk. Returns where the frame ends,
   * or `offset` when this is not such a frame (then the general path takes it).
   */
  private smallText(chunk: Buffer, offset: number, end: number): number {
    const b1 = chunk[offset + 1] as number;
    const length = b1 & 0x7f;
    if (
      chunk[offset] !== FINAL_TEXT ||
      length >= 126 ||
      (b1 & 0x80) !== (this.requireMask ? 0x80 : 0) ||
      this.messageOpcode !== 0 ||
      length > this.maxPayload
    ) {
      return offset;
    }
    const start = offset + (this.requireMask ? 6 : 2);
    const stop = start + length;
    if (stop > end) return offset;
    if (this.requireMask) mask(chunk, chunk.readUInt32LE(offset + 2), start, stop);
    const text = decodeText(chunk, start, stop);
    if (text === undefined) {
      this.fail(violation.invalidUtf8('invalid UTF-8 in a text message'));
      return end;
    }
    this.handlers.onText(text);
    return stop;
  }

  private gatherHead(chunk: Buffer, offset: number, end: number): number {
    this.headBytes ??= Buffer.allocUnsafe(MAX_HEADER_SIZE);
    const head = this.headBytes;
    const needed = this.headLength < 2 ? 2 : headSizeFor(head[1] as number);
    const take = Math.min(needed - this.headLength, end - offset);
    chunk.copy(head, this.headLength, offset, offset + take);
    this.headLength += take;
    if (this.headLength >= 2 && this.headLength === headSizeFor(head[1] as number)) {
      this.headLength = 0;
      this.readHead(head, 0);
    }
    return offset + take;
  }

  /** Checks one complete header at `buf[at]` (RFC 6455 5.2, 5.4, 5.5). */
  private readHead(buf: Buffer, at: number): void {
    const b0 = buf[at] as number;
    const b1 = buf[at + 1] as number;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let p = at + 2;

    if (b0 & 0x30) {
      this.fail(violation.protocol('reserved bits set without an extension'));
      return;
    }
    const rsv1 = (b0 & 0x40) !== 0;
    if (rsv1 && this.deflate === undefined) {
      this.fail(violation.protocol('reserved bits set without an extension'));
      return;
    }
    if (opcode >= 0x8) {
      if (opcode > Opcode.pong) {
        this.fail(violation.protocol(`reserved control opcode ${opcode}`));
        return;
      }
      if (!fin) {
        this.fail(violation.protocol('fragmented control frame'));
        return;
      }
      if (length > MAX_CONTROL_PAYLOAD) {
        this.fail(violation.protocol('control frame over 125 bytes'));
        return;
      }
      if (rsv1) {
        this.fail(violation.protocol('RSV1 on a control frame'));
        return;
      }
    } else if (opcode === Opcode.continuation) {
      if (this.messageOpcode === 0) {
        this.fail(violation.protocol('continuation frame with nothing to continue'));
        return;
      }
      // RFC 7692 6.1: only the first frame of a compressed message carries RSV1.
      if (rsv1) {
        this.fail(violation.protocol('RSV1 on a continuation frame'));
        return;
      }
    } else if (opcode === Opcode.text || opcode === Opcode.binary) {
      if (this.messageOpcode !== 0) {
        this.fail(violation.protocol('new data frame inside a fragmented message'));
        return;
      }
      this.compressed = rsv1;
    } else {
      this.fail(violation.protocol(`reserved data opcode ${opcode}`));
      return;
    }
    if (masked !== this.requireMask) {
      this.fail(violation.protocol(masked ? 'masked frame from a server' : 'unmasked frame from a client'));
      return;
    }

    if (length === 126) {
      length = ((buf[p] as number) << 8) | (buf[p + 1] as number);
      p += 2;
    } else if (length === 127) {
      const high = buf.readUInt32BE(p);
      // RFC 6455 5.2: the most significant bit of a 64-bit length must be 0.
      if (high >= 0x8000_0000) {
        this.fail(violation.protocol('64-bit frame length with its most significant bit set'));
        return;
      }
      // Above 2^53 - 1 the length is not even representable; it is over any limit anyway.
      if (high > 0x1fffff) {
        this.fail(violation.tooBig('frame length over 2^53 - 1'));
        return;
      }
      length = high * 0x1_0000_0000 + buf.readUInt32BE(p + 4);
      p += 8;
    }
    if (opcode < 0x8) {
      // Refused on the header, before a byte of the payload is buffered.
      if (this.messageLength + length > (this.compressed ? this.maxCompressed : this.maxPayload)) {
        this.fail(violation.tooBig('message too big'));
        return;
      }
      if (++this.messageFrames > this.maxFragments) {
        this.fail(violation.tooBig('message in too many fragments'));
        return;
      }
      this.messageLength += length;
      if (opcode !== Opcode.continuation) this.messageOpcode = opcode;
    }
    if (masked) this.maskKey = buf.readUInt32LE(p);
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.payloadLength = length;
    this.received = 0;
    if (length === 0) this.endFrame(EMPTY);
    else this.state = READING_PAYLOAD;
  }

  private readPayload(chunk: Buffer, offset: number, end: number): number {
    const remaining = this.payloadLength - this.received;
    const available = end - offset;
    // Compressed text is checked once inflated.
    const text =
      !this.compressed &&
      (this.opcode === Opcode.text || (this.opcode === Opcode.continuation && this.messageOpcode === Opcode.text));
    if (this.received === 0 && available >= remaining) {
      // Fast path: the whole payload is here. Unmask in place; no allocation, no copy.
      const stop = offset + remaining;
      if (this.masked) mask(chunk, this.maskKey, offset, stop);
      if (text && this.fin && this.opcode === Opcode.text) {
        // A whole text message in one frame: decoded (and so validated) straight from the chunk.
        const decoded = decodeText(chunk, offset, stop);
        if (decoded === undefined) {
          this.fail(violation.invalidUtf8('invalid UTF-8 in a text message'));
          return end;
        }
        this.state = READING_HEAD;
        this.messageOpcode = 0;
        this.messageLength = 0;
        this.messageFrames = 0;
        this.handlers.onText(decoded);
        return stop;
      }
      if (text && !this.checkUtf8(chunk, offset, stop)) return end;
      this.endFrame(chunk.subarray(offset, stop));
      return stop;
    }
    // The payload spans chunks: gathered (and unmasked) into one buffer as bytes arrive.
    const take = Math.min(remaining, available);
    const from = this.received;
    const payload = this.reserve(from + take);
    if (this.masked) copyMasked(chunk, offset, offset + take, payload, from, this.maskKey, from);
    else chunk.copy(payload, from, offset, offset + take);
    if (text && !this.checkUtf8(payload, from, from + take)) return end;
    this.received += take;
    if (this.received === this.payloadLength) {
      this.payload = undefined;
      this.endFrame(payload);
    }
    return offset + take;
  }

  /** Feeds a piece of a text message to the incremental check; fails the stream (1007) at a bad byte. */
  private checkUtf8(bytes: Buffer, start: number, end: number): boolean {
    this.utf8 ??= new Utf8Validator();
    if (this.utf8.update(bytes, start, end)) return true;
    this.fail(violation.invalidUtf8('invalid UTF-8 in a text message'));
    return false;
  }

  /**
   * The payload buffer, with room for `needed` bytes. A small frame gets its final size at
   * once; a big one gets four times what has arrived (at least EAGER_PAYLOAD, at most its
   * length), so a peer that announces 1 MiB and sends ten bytes gets 16 KiB, not 1 MiB (times
   * every connection it opens), while a frame arriving in a few big chunks is rarely regrown.
   */
  private reserve(needed: number): Buffer {
    const current = this.payload;
    if (current !== undefined && current.length >= needed) return current;
    const capacity =
      this.payloadLength <= EAGER_PAYLOAD
        ? this.payloadLength
        : Math.min(this.payloadLength, Math.max(4 * needed, EAGER_PAYLOAD));
    const grown = Buffer.allocUnsafe(capacity);
    current?.copy(grown, 0, 0, this.received);
    this.payload = grown;
    return grown;
  }

  /** Bytes held for the frame and the message in progress (what a peer can make this buffer). */
  get bufferedBytes(): number {
    let total = (this.payload?.length ?? 0) + (this.scratch?.length ?? 0) + (this.deflate?.bufferedBytes ?? 0);
    for (const chunk of this.queued) total += chunk.length;
    for (const fragment of this.fragments) total += fragment.length;
    return total;
  }

  private endFrame(data: Buffer): void {
    this.state = READING_HEAD;
    switch (this.opcode) {
      case Opcode.close:
        this.endClose(data);
        return;
      case Opcode.ping:
        this.handlers.onPing(data);
        return;
      case Opcode.pong:
        this.handlers.onPong(data);
        return;
    }
    if (this.compressed) {
      this.inflateFrame(data);
      return;
    }
    let message = data;
    if (!this.fin || this.fragments.length > 0 || this.scratch !== undefined) {
      this.append(data);
      if (!this.fin) return;
      this.sealScratch();
      message = this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments, this.messageLength);
      this.fragments = [];
    }
    const isBinary = this.messageOpcode === Opcode.binary;
    this.messageOpcode = 0;
    this.messageLength = 0;
    this.messageFrames = 0;
    if (isBinary) {
      this.handlers.onBinary(message);
      return;
    }
    // Every byte of this text went through the incremental check (checkUtf8) on its way in.
    const utf8 = this.utf8;
    if (utf8 !== undefined && !utf8.complete) {
      this.fail(violation.invalidUtf8('text message ends inside a UTF-8 sequence'));
      return;
    }
    utf8?.reset();
    this.handlers.onText(message.toString('utf8'));
  }

  /** Hands one frame of a compressed message to zlib; reading resumes when it is done. */
  private inflateFrame(data: Buffer): void {
    const fin = this.fin;
    this.state = INFLATING;
    this.deflate!.decompress(data, fin, (result) => {
      if (this.handlers.onResume) this.handlers.onResume(() => this.afterInflate(result));
      else this.afterInflate(result);
    });
  }

  private afterInflate(result: InflateResult): void {
    // Stopped meanwhile (the connection was terminated).
    if (this.state !== INFLATING) return;
    this.state = READING_HEAD;
    switch (result.kind) {
      case 'tooBig':
        this.fail(violation.tooBig('message too big'));
        return;
      case 'error':
        this.fail(violation.badCompression(result.reason));
        return;
      case 'message':
        this.deliverInflated(result.data);
        break;
    }
    while (this.state <= READING_PAYLOAD && this.queued.length > 0) this.consume(this.queued.shift()!);
    if (this.state !== INFLATING) this.handlers.onDrained?.();
  }

  private deliverInflated(message: Buffer): void {
    const isBinary = this.messageOpcode === Opcode.binary;
    this.messageOpcode = 0;
    this.messageLength = 0;
    this.messageFrames = 0;
    this.compressed = false;
    if (isBinary) {
      this.handlers.onBinary(message);
      return;
    }
    const text = decodeText(message, 0, message.length);
    if (text === undefined) {
      this.fail(violation.invalidUtf8('invalid UTF-8 in a text message'));
      return;
    }
    this.handlers.onText(text);
  }

  /** RFC 6455 5.5.1 and 7.4: no code, or a valid code and a UTF-8 reason. */
  private endClose(data: Buffer): void {
    if (data.length === 1) {
      this.fail(violation.protocol('close frame with a one-byte payload'));
      return;
    }
    let code: number = CloseCode.noStatus;
    let reason = '';
    if (data.length >= 2) {
      code = ((data[0] as number) << 8) | (data[1] as number);
      if (!isValidWireCloseCode(code)) {
        this.fail(violation.protocol(`invalid close code ${code}`));
        return;
      }
      const reasonBytes = data.subarray(2);
      if (!isUtf8(reasonBytes)) {
        this.fail(violation.invalidUtf8('close reason is not UTF-8'));
        return;
      }
      reason = reasonBytes.toString('utf8');
    }
    this.finish();
    this.handlers.onClose(code, reason);
  }

  private append(data: Buffer): void {
    if (data.length >= SMALL_FRAGMENT) {
      this.sealScratch();
      this.fragments.push(data);
      return;
    }
    if (data.length === 0) return;
    if (this.scratch === undefined || this.scratchUsed + data.length > this.scratch.length) {
      this.sealScratch();
      this.scratch = Buffer.allocUnsafe(SCRATCH_SIZE);
    }
    data.copy(this.scratch, this.scratchUsed);
    this.scratchUsed += data.length;
  }

  private sealScratch(): void {
    if (this.scratch === undefined) return;
    this.fragments.push(this.scratch.subarray(0, this.scratchUsed));
    this.scratch = undefined;
    this.scratchUsed = 0;
  }

  private fail(error: ProtocolError): void {
    this.finish();
    this.handlers.onError(error);
  }

  private finish(): void {
    this.state = DONE;
    this.queued = [];
    this.payload = undefined;
    this.fragments = [];
    this.scratch = undefined;
  }
}

/**
 * `bytes[start, end)` decoded as UTF-8, or undefined when it is not valid UTF-8. Decoding
 * replaces every invalid sequence with U+FFFD, so text without one was valid; only text that
 * has one (rare in JSON, and never in a one-byte string, where the search is immediate) is
 * checked byte by byte, natively. One pass over the bytes instead of a check then a decode.
 */
function decodeText(bytes: Buffer, start: number, end: number): string | undefined {
  const text = bytes.toString('utf8', start, end);
  if (!text.includes(REPLACEMENT_CHARACTER) || isUtf8(bytes.subarray(start, end))) return text;
  return undefined;
}

const REPLACEMENT_CHARACTER = '\uFFFD';
/** FIN set, no RSV bits, opcode text: the first byte of a whole text message in one frame. */
const FINAL_TEXT = 0x80 | Opcode.text;
const EMPTY = Buffer.alloc(0);
/** Fragments smaller than this are copied together instead of kept one object each. */
const SMALL_FRAGMENT = 1024;
const SCRATCH_SIZE = 4 * SMALL_FRAGMENT;
/** Payloads up to this size that span chunks get their whole buffer at once. */
const EAGER_PAYLOAD = 16 * 1024;
