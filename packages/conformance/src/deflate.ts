import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  deflateRawSync,
  type InflateRaw,
} from 'node:zlib';
import { type Frame, Opcode, type RawPeer } from './raw.js';

/**
 * permessage-deflate for the raw peer (RFC 7692 section 7.2), on node:zlib alone: a message is
 * raw DEFLATE ending in a sync flush, whose trailing `00 00 ff ff` is left off on the wire.
 */
export const SYNC_FLUSH_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One message compressed on its own (no context takeover). */
export function deflateMessage(data: Buffer | string): Buffer {
  const deflated = deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, {
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return stripTail(deflated);
}

function stripTail(deflated: Buffer): Buffer {
  if (!deflated.subarray(-4).equals(SYNC_FLUSH_TAIL)) throw new Error('deflate output does not end in a sync flush');
  return deflated.subarray(0, -4);
}

/** Runs one write-and-sync-flush through a zlib stream and collects what comes out. */
function throughSync(stream: DeflateRaw | InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
    };
    const onError = (error: Error): void => {
      stream.off('data', onData);
      reject(error);
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(input);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** A client's compressor that keeps its LZ77 window across messages (context takeover). */
export class MessageDeflater {
  private readonly stream = createDeflateRaw({ windowBits: 15 });

  async deflate(data: Buffer | string): Promise<Buffer> {
    return stripTail(await throughSync(this.stream, typeof data === 'string' ? Buffer.from(data) : data));
  }

  close(): void {
    this.stream.close();
  }
}

/**
 * Inflates the server's compressed messages. With server context takeover one stream must
 * carry them all; with `server_no_context_takeover` every message must inflate alone, so then
 * each gets a fresh stream (a message that leaned on an earlier one fails to inflate).
 */
export class MessageInflater {
  private stream: InflateRaw | undefined;

  constructor(private readonly noContextTakeover: boolean) {}

  async inflate(payload: Buffer): Promise<Buffer> {
    if (this.noContextTakeover || !this.stream) {
      this.stream?.close();
      this.stream = createInflateRaw({ windowBits: 15 });
    }
    return throughSync(this.stream, Buffer.concat([payload, SYNC_FLUSH_TAIL]));
  }

  close(): void {
    this.stream?.close();
  }
}

/** A message as the server sent it: its frames, whether it was compressed, and its bytes after inflating. */
export interface ReceivedMessage {
  opcode: number;
  compressed: boolean;
  data: Buffer;
  frames: Frame[];
}

/** Reads one data message (skipping pings and pongs), inflating it when its first frame has RSV1. */
export async function readMessage(
  peer: RawPeer,
  inflater: MessageInflater,
  timeoutMs = 5_000,
): Promise<ReceivedMessage> {
  const frames: Frame[] = [];
  for (;;) {
    const frame = await peer.readFrame(timeoutMs);
    if (frame.opcode === Opcode.ping || frame.opcode === Opcode.pong) continue;
    if (frame.opcode === Opcode.close) throw new Error(`the server closed with ${frame.payload.readUInt16BE(0)}`);
    frames.push(frame);
    if (frame.fin) break;
  }
  const first = frames[0] as Frame;
  const compressed = (first.rsv & 4) !== 0;
  const payload = Buffer.concat(frames.map((frame) => frame.payload));
  return { opcode: first.opcode, compressed, data: compressed ? await inflater.inflate(payload) : payload, frames };
}

/** Reads one message and parses it as JSON. */
export async function readJson(peer: RawPeer, inflater: MessageInflater): Promise<unknown> {
  return JSON.parse((await readMessage(peer, inflater)).data.toString('utf8'));
}
