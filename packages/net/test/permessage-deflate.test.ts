import { once } from 'node:events';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { constants, createDeflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import { closePayload, encodeFrame as probeFrame, RawPeer } from '@socketlab/conformance';
import {
  HandshakeError,
  PER_MESSAGE_DEFLATE_DEFAULTS,
  type PerMessageDeflateOptions,
  type RealtimeServer,
  within,
} from '@socketlab/contract';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { connect } from '../src/client.js';
import { Opcode } from '../src/constants.js';
import { acceptKeyFor } from '../src/handshake.js';
import { type DeflateParams, PerMessageDeflate } from '../src/permessage-deflate.js';
import { Receiver } from '../src/receiver.js';
import { createServer } from '../src/server.js';

type Event =
  | { kind: 'message'; data: string; binary: boolean }
  | { kind: 'ping' | 'pong'; data: string }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'error'; code: number };

const config = (options: PerMessageDeflateOptions = {}) => ({ ...PER_MESSAGE_DEFLATE_DEFAULTS, ...options });
const TAKEOVER: DeflateParams = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};
const NO_TAKEOVER: DeflateParams = { ...TAKEOVER, clientNoContextTakeover: true };

/** A server-side receiver with permessage-deflate; `feed` resolves once every inflate is done. */
function deflateReceiver(params: DeflateParams = TAKEOVER, maxPayload = 1 << 20) {
  const events: Event[] = [];
  const deflate = new PerMessageDeflate(params, 'server', config(), maxPayload);
  const receiver = new Receiver(
    { role: 'server', maxPayload, deflate },
    {
      onText: (text) => events.push({ kind: 'message', data: text, binary: false }),
      onBinary: (data) => events.push({ kind: 'message', data: data.toString('hex'), binary: true }),
      onPing: (data) => events.push({ kind: 'ping', data: data.toString('hex') }),
      onPong: (data) => events.push({ kind: 'pong', data: data.toString('hex') }),
      onClose: (code, reason) => events.push({ kind: 'close', code, reason }),
      onError: (error) => events.push({ kind: 'error', code: error.code }),
    },
  );
  const feed = async (chunks: readonly Uint8Array[]): Promise<Event[]> => {
    for (const chunk of chunks) {
      receiver.push(Buffer.from(chunk));
    }
    const deadline = Date.now() + 10_000;
    while (receiver.waiting) {
      if (Date.now() > deadline) throw new Error('the receiver still waits for zlib after 10 s');
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return events;
  };
  return { events, receiver, deflate, feed };
}

/** DEFLATE by an independent compressor (zlib one-shot), sync flush, tail removed (RFC 7692 7.2.1). */
function compress(data: Buffer | string): Buffer {
  const out = deflateRawSync(Buffer.from(data), { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** A compressed message as client frames: RSV1 on the first only; `cuts` split the compressed bytes. */
function compressedMessage(opcode: number, data: Buffer | string, cuts: number[] = [], compressed = compress(data)) {
  const points = [...new Set(cuts.map((c) => c % (compressed.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...points, compressed.length];
  const frames: Buffer[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    frames.push(
      probeFrame({
        opcode: i === 0 ? opcode : Opcode.continuation,
        rsv: i === 0 ? 4 : 0,
        fin: i + 2 === bounds.length,
        payload: compressed.subarray(bounds[i], bounds[i + 1]),
      }),
    );
  }
  return Buffer.concat(frames);
}

describe('permessage-deflate: the receiver', () => {
  it('inflates text and binary, fragmented, with control frames between, cut at every byte', async () => {
    const text = 'héllo, compressed wörld '.repeat(4);
    const binary = Buffer.alloc(2000, 7);
    const stream = Buffer.concat([
      probeFrame({ opcode: Opcode.text, rsv: 4, fin: false, payload: compress(text).subarray(0, 5) }),
      probeFrame({ opcode: Opcode.ping, payload: 'between' }),
      probeFrame({ opcode: Opcode.continuation, payload: compress(text).subarray(5) }),
      probeFrame({ opcode: Opcode.text, payload: 'plain' }),
      compressedMessage(Opcode.binary, binary, [1]),
      probeFrame({ opcode: Opcode.close, payload: closePayload(1000, 'bye') }),
    ]);
    const want: Event[] = [
      { kind: 'ping', data: Buffer.from('between').toString('hex') },
      { kind: 'message', data: text, binary: false },
      { kind: 'message', data: 'plain', binary: false },
      { kind: 'message', data: binary.toString('hex'), binary: true },
      { kind: 'close', code: 1000, reason: 'bye' },
    ];
    const ways: Buffer[][] = [[stream]];
    for (let at = 0; at <= stream.length; at++) ways.push([stream.subarray(0, at), stream.subarray(at)]);
    ways.push([...stream].map((byte) => Buffer.from([byte])));
    for (const chunks of ways) {
      expect(await deflateReceiver().feed(chunks)).toStrictEqual(want);
    }
  });

  it.each([
    [
      'RSV1 on a continuation',
      [
        probeFrame({ opcode: Opcode.text, rsv: 4, fin: false, payload: compress('abc') }),
        probeFrame({ opcode: Opcode.continuation, rsv: 4, payload: '' }),
      ],
    ],
    ['RSV1 on a ping', [probeFrame({ opcode: Opcode.ping, rsv: 4, payload: 'x' })]],
    ['RSV1 on a close', [probeFrame({ opcode: Opcode.close, rsv: 4, payload: closePayload(1000) })]],
    ['RSV2 with the extension', [probeFrame({ opcode: Opcode.text, rsv: 2, payload: 'x' })]],
    ['RSV3 with the extension', [probeFrame({ opcode: Opcode.text, rsv: 1, payload: 'x' })]],
  ])('%s closes 1002', async (_name, frames) => {
    const events = await deflateReceiver().feed([
      Buffer.concat([...frames, probeFrame({ opcode: Opcode.text, payload: 'after' })]),
    ]);
    expect(events).toStrictEqual([{ kind: 'error', code: 1002 }]);
  });

  it('closes 1002 on RSV1 when no extension was negotiated', () => {
    const events: number[] = [];
    const receiver = new Receiver(
      { role: 'server', maxPayload: 1024 },
      {
        onText: () => events.push(0),
        onBinary: () => events.push(0),
        onPing: () => {},
        onPong: () => {},
        onClose: () => {},
        onError: (error) => events.push(error.code),
      },
    );
    receiver.push(compressedMessage(Opcode.text, 'hello'));
    expect(events).toStrictEqual([1002]);
  });

  it('closes 1007 on compressed data that does not inflate, and on inflated text that is not UTF-8', async () => {
    const garbage = probeFrame({ opcode: Opcode.binary, rsv: 4, payload: Buffer.from([0xff, 0xff, 0xff, 0xff]) });
    expect(await deflateReceiver().feed([garbage])).toStrictEqual([{ kind: 'error', code: 1007 }]);
    const badText = compressedMessage(Opcode.text, Buffer.from([0x61, 0xc3, 0x28]));
    expect(await deflateReceiver().feed([badText])).toStrictEqual([{ kind: 'error', code: 1007 }]);
  });

  it('follows the peer across messages with context takeover, also after its idle decompressor was released', async () => {
    // A compressor that keeps its context, as a client with takeover does.
    const deflater = createDeflateRaw();
    const compressKeeping = async (text: string): Promise<Buffer> => {
      const out: Buffer[] = [];
      const onData = (chunk: Buffer) => out.push(chunk);
      deflater.on('data', onData);
      deflater.write(text);
      await new Promise<void>((resolve) => deflater.flush(constants.Z_SYNC_FLUSH, () => resolve()));
      deflater.off('data', onData);
      const all = Buffer.concat(out);
      return all.subarray(0, all.length - 4);
    };
    const texts = [
      '{"type":"echo","payload":"the same words again and again"}',
      '{"type":"echo","payload":"the same words again and again"}',
      '{"type":"echo","payload":"the same words, once more"}',
    ];
    const { feed, deflate } = deflateReceiver(TAKEOVER);
    const first = await compressKeeping(texts[0]!);
    const second = await compressKeeping(texts[1]!);
    // The second message is a back-reference into the first: it cannot be inflated alone.
    expect(second.length).toBeLessThan(first.length / 3);
    await feed([
      compressedMessage(Opcode.text, texts[0]!, [], first),
      compressedMessage(Opcode.text, texts[1]!, [], second),
    ]);
    // Idle for two sweeps: the decompressor goes, the window's tail stays (as a copy).
    deflate.sweep();
    deflate.sweep();
    expect(deflate.holdsInflater).toBe(false);
    expect(deflate.bufferedBytes).toBeLessThanOrEqual(texts[0]!.length + texts[1]!.length);
    const third = await compressKeeping(texts[2]!);
    const events = await feed([compressedMessage(Opcode.text, texts[2]!, [], third)]);
    expect(events).toStrictEqual(texts.map((data) => ({ kind: 'message', data, binary: false })));
    deflater.close();
  });

  it('resets between messages without context takeover, and holds nothing once idle', async () => {
    const { feed, deflate } = deflateReceiver(NO_TAKEOVER);
    const texts = ['one message', 'another message', 'one message again'];
    const events = await feed(texts.map((text) => compressedMessage(Opcode.text, text)));
    expect(events.map((event) => event.kind === 'message' && event.data)).toStrictEqual(texts);
    deflate.sweep();
    deflate.sweep();
    expect(deflate.holdsInflater).toBe(false);
    expect(deflate.bufferedBytes).toBe(0);
  });

  it('closes 1009 on a frame that would inflate to 100 MiB, having inflated at most about the limit', async () => {
    // 100 sync-flushed pieces of 1 MiB of zeros each make one valid DEFLATE stream of 100 MiB.
    const piece = deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: constants.Z_SYNC_FLUSH });
    const bomb = Buffer.concat(Array.from({ length: 100 }, () => piece));
    const limit = 1 << 20;
    expect(bomb.length).toBeLessThan(limit / 8);
    const { feed, deflate, receiver } = deflateReceiver(TAKEOVER, limit);
    expect(await feed([compressedMessage(Opcode.binary, Buffer.alloc(0), [], bomb)])).toStrictEqual([
      { kind: 'error', code: 1009 },
    ]);
    // zlib is stopped at the chunk that crosses the limit (zlib hands out 16 KiB at a time).
    expect(deflate.inflatedTotal).toBeLessThanOrEqual(limit + 64 * 1024);
    expect(receiver.bufferedBytes).toBe(0);
  }, 20_000);

  it('takes a message exactly at the limit once inflated', async () => {
    const limit = 64 * 1024;
    const data = Buffer.alloc(limit, 0x61);
    const { feed } = deflateReceiver(TAKEOVER, limit);
    const events = await feed([compressedMessage(Opcode.binary, data, [100, 200])]);
    expect(events).toStrictEqual([{ kind: 'message', data: data.toString('hex'), binary: true }]);
    const over = deflateReceiver(TAKEOVER, limit);
    expect(await over.feed([compressedMessage(Opcode.binary, Buffer.alloc(limit + 1))])).toStrictEqual([
      { kind: 'error', code: 1009 },
    ]);
  });
});

describe('permessage-deflate: properties', () => {
  const message = fc.record({
    binary: fc.boolean(),
    compressed: fc.boolean(),
    text: fc.string({ unit: 'binary', maxLength: 300 }),
    bytes: fc.uint8Array({ maxLength: 3000 }),
    cuts: fc.uniqueArray(fc.nat(), { maxLength: 4 }),
  });

  it('round-trips random messages, compressed or not, fragmented and chunked at random', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(message, { minLength: 1, maxLength: 6 }),
        fc.uniqueArray(fc.nat(), { maxLength: 10 }),
        fc.constantFrom(TAKEOVER, NO_TAKEOVER),
        async (messages, chunkCuts, params) => {
          const frames: Buffer[] = [];
          const want: Event[] = [];
          for (const m of messages) {
            const bytes = m.binary ? Buffer.from(m.bytes) : Buffer.from(m.text);
            const opcode = m.binary ? Opcode.binary : Opcode.text;
            if (m.compressed) frames.push(compressedMessage(opcode, bytes, m.cuts));
            else frames.push(probeFrame({ opcode, payload: bytes }));
            want.push({ kind: 'message', data: m.binary ? bytes.toString('hex') : m.text, binary: m.binary });
          }
          const all = Buffer.concat(frames);
          const cutsAt = [...new Set(chunkCuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const bounds = [0, ...cutsAt, all.length];
          const chunks = bounds.slice(1).map((end, i) => all.subarray(bounds[i], end));
          expect(await deflateReceiver(params).feed(chunks)).toStrictEqual(want);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('permessage-deflate: over the wire', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  const server = async (perMessageDeflate: PerMessageDeflateOptions | boolean): Promise<RealtimeServer> => {
    const made = await createServer({ perMessageDeflate });
    cleanup.push(() => made.close());
    return made;
  };

  it('keeps the order of replies when only some are compressed (zlib is asynchronous), with many clients on one zlib slot', async () => {
    const srv = await server({ threshold: 512, concurrencyLimit: 1 });
    const sizes = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 5 : i % 3 === 1 ? 4000 : 600));
    const run = async (): Promise<void> => {
      const ws = new WebSocket(srv.url, 'echo-protocol', { perMessageDeflate: { threshold: 0 } });
      cleanup.push(() => ws.terminate());
      const replies: string[] = [];
      let resolve!: () => void;
      const all = new Promise<void>((r) => {
        resolve = r;
      });
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string; payload?: string };
        if (message.type === 'echo') replies.push(message.payload!);
        if (replies.length === sizes.length) resolve();
      });
      await within(once(ws, 'open'), 5_000, 'the upgrade');
      expect(ws.extensions).toContain('permessage-deflate');
      const sent = sizes.map((size, i) => `${i}:${'x'.repeat(size)}`);
      for (const payload of sent) ws.send(JSON.stringify({ type: 'echo', payload }));
      await within(all, 10_000, 'every echo');
      expect(replies).toStrictEqual(sent);
    };
    await Promise.all(Array.from({ length: 8 }, run));
  });

  it('sends a compressed broadcast to compressing and plain clients of one room', async () => {
    const srv = await server({ threshold: 0 });
    const offer = (extensions: string) =>
      RawPeer.upgraded(srv.port, { extraHeaders: { 'Sec-WebSocket-Extensions': extensions } });
    const peers = await Promise.all([
      offer('permessage-deflate'),
      offer('permessage-deflate; server_max_window_bits=10'),
      offer('permessage-deflate; server_max_window_bits=10'),
      offer('x-unknown-extension'),
    ]);
    for (const peer of peers) cleanup.push(() => peer.destroy());
    const plainClient = await connect(srv.url);
    const compressingClient = await connect(srv.url, { perMessageDeflate: true });
    cleanup.push(() => plainClient.terminate());
    cleanup.push(() => compressingClient.terminate());
    const payload = 'a chat line, '.repeat(100);
    compressingClient.send({ type: 'broadcast', payload });
    for (const client of [plainClient, compressingClient]) {
      expect((await client.receive('broadcast')).payload).toBe(payload);
    }
    const frames: Buffer[] = [];
    for (const [i, peer] of peers.entries()) {
      // Skip welcome and joins: the broadcast is the first frame whose text carries the payload.
      for (;;) {
        const frame = await peer.readFrame();
        const compressed = (frame.rsv & 4) !== 0;
        expect(compressed).toBe(i < 3);
        const text = (
          compressed
            ? inflateRawSync(Buffer.concat([frame.payload, Buffer.from([0, 0, 0xff, 0xff])]), {
                finishFlush: constants.Z_SYNC_FLUSH,
              })
            : frame.payload
        ).toString();
        const message = JSON.parse(text) as { type: string; payload?: string };
        if (message.type !== 'broadcast') continue;
        expect(message.payload).toBe(payload);
        frames.push(frame.payload);
        break;
      }
    }
    // The two peers with the same parameters got the very same compressed bytes.
    expect(frames[1]!.equals(frames[2]!)).toBe(true);
  });

  it('refuses a server answer that does not fit the offer: the handshake fails', async () => {
    const fake = createTcpServer((socket) => {
      socket.once('data', (head: Buffer) => {
        const key = /sec-websocket-key: (\S+)/i.exec(head.toString())![1]!;
        socket.end(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${acceptKeyFor(key)}\r\nSec-WebSocket-Protocol: echo-protocol\r\n` +
            'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
        );
      });
    });
    fake.listen(0, '127.0.0.1');
    await once(fake, 'listening');
    cleanup.push(() => {
      fake.close();
    });
    const url = `ws://127.0.0.1:${(fake.address() as AddressInfo).port}/`;
    await expect(connect(url, { perMessageDeflate: true })).rejects.toThrow(HandshakeError);
    await expect(connect(url, { perMessageDeflate: true })).rejects.toThrow(/client_max_window_bits needs a value/);
    // Not offered at all: any extension in the answer is refused.
    await expect(connect(url)).rejects.toThrow(/extension not offered/);
  });

  it('net client with a ws server: compressed both ways, with a limited client window', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    await once(wss, 'listening');
    cleanup.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const offers: (string | undefined)[] = [];
    const received: boolean[] = [];
    const negotiated: string[] = [];
    wss.on('connection', (ws, request) => {
      offers.push(request.headers['sec-websocket-extensions']);
      negotiated.push(ws.extensions);
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        received.push(isBinary);
        ws.send(isBinary ? data : data.toString(), { binary: isBinary });
      });
    });
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    const client = await connect(url, { protocols: [], perMessageDeflate: { threshold: 0, clientMaxWindowBits: 10 } });
    cleanup.push(() => client.terminate());
    expect(offers).toStrictEqual(['permessage-deflate; client_max_window_bits=10']);
    expect(negotiated).toStrictEqual(['permessage-deflate']);
    const big = 'ünïcode and repetition '.repeat(300);
    client.sendText!(JSON.stringify({ type: 'echo', payload: big }));
    expect((await client.receive('echo')).payload).toBe(big);
    const bytes = Buffer.alloc(5000, 3);
    client.sendBinary(bytes);
    expect(Buffer.from((await client.receive('binary')).data).equals(bytes)).toBe(true);
    expect(received).toStrictEqual([false, true]);
  });
});
