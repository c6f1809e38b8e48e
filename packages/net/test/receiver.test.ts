import { closePayload, encodeFrame as probeFrame } from '@socketlab/conformance';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Opcode } from '../src/constants.js';
import { defaultMaxFragments, Receiver } from '../src/receiver.js';
import { encodeFrame } from '../src/sender.js';

type Event =
  | { kind: 'message'; data: string; binary: boolean }
  | { kind: 'ping' | 'pong'; data: string }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'error'; code: number };

/** Feeds copies of the chunks (the receiver unmasks in place) and records every event. */
function receive(chunks: readonly Uint8Array[], role: 'server' | 'client' = 'server', maxPayload = 1 << 20) {
  const events: Event[] = [];
  const receiver = new Receiver(
    { role, maxPayload },
    {
      onText: (text) => events.push({ kind: 'message', data: text, binary: false }),
      onBinary: (data) => events.push({ kind: 'message', data: data.toString('hex'), binary: true }),
      onPing: (data) => events.push({ kind: 'ping', data: data.toString('hex') }),
      onPong: (data) => events.push({ kind: 'pong', data: data.toString('hex') }),
      onClose: (code, reason) => events.push({ kind: 'close', code, reason }),
      onError: (error) => events.push({ kind: 'error', code: error.code }),
    },
  );
  for (const chunk of chunks) receiver.push(Buffer.from(chunk));
  return { events, receiver };
}

const terminal = (event: Event): boolean => event.kind === 'close' || event.kind === 'error';

/** A client's frame, as the independent conformance probe encodes it (masked unless told). */
const frame = probeFrame;

/** Every way to cut `stream` in two, and the stream one byte at a time. */
function splits(stream: Buffer): Buffer[][] {
  const ways: Buffer[][] = [];
  for (let at = 0; at <= stream.length; at++) ways.push([stream.subarray(0, at), stream.subarray(at)]);
  ways.push([...stream].map((byte) => Buffer.from([byte])));
  return ways;
}

describe('receiver: frames split anywhere', () => {
  const stream = Buffer.concat([
    frame({ opcode: Opcode.text, payload: 'hé', fin: false }),
    frame({ opcode: Opcode.ping, payload: 'between' }),
    frame({ opcode: Opcode.continuation, payload: Buffer.from([0x6c, 0xe2, 0x9c]), fin: false }),
    frame({ opcode: Opcode.continuation, payload: Buffer.from([0x93]) }),
    frame({ opcode: Opcode.binary, payload: Buffer.alloc(200, 7) }),
    frame({ opcode: Opcode.text, payload: '' }),
    frame({ opcode: Opcode.pong, payload: Buffer.from([1, 2, 3]) }),
    frame({ opcode: Opcode.text, payload: '{"type":"echo","payload":"ok"}' }),
    frame({ opcode: Opcode.close, payload: closePayload(1000, 'bye ✓') }),
  ]);
  const expected: Event[] = [
    { kind: 'ping', data: Buffer.from('between').toString('hex') },
    { kind: 'message', data: 'hél✓', binary: false },
    { kind: 'message', data: Buffer.alloc(200, 7).toString('hex'), binary: true },
    { kind: 'message', data: '', binary: false },
    { kind: 'pong', data: '010203' },
    { kind: 'message', data: '{"type":"echo","payload":"ok"}', binary: false },
    { kind: 'close', code: 1000, reason: 'bye ✓' },
  ];

  it('gives the same events for the stream whole, cut at every byte boundary, and byte by byte', () => {
    expect(receive([stream]).events).toStrictEqual(expected);
    for (const chunks of splits(stream)) expect(receive(chunks).events).toStrictEqual(expected);
  });

  it('reads 7-, 16- and 64-bit lengths at their edges, cut anywhere in the header', () => {
    for (const size of [0, 125, 126, 65_535, 65_536, 70_000]) {
      const payload = Buffer.alloc(size, 0x61);
      const bytes = frame({ opcode: Opcode.binary, payload });
      const want = [{ kind: 'message', data: payload.toString('hex'), binary: true }];
      for (let at = 0; at <= 16; at++) {
        expect(receive([bytes.subarray(0, at), bytes.subarray(at)]).events).toStrictEqual(want);
      }
      expect(receive([bytes.subarray(0, 20), bytes.subarray(20, 999), bytes.subarray(999)]).events).toStrictEqual(want);
    }
  });

  it('assembles a message from a thousand one-byte fragments, with empty ones between', () => {
    const text = 'ü'.repeat(500);
    const bytes = Buffer.from(text);
    const frames = [...bytes].flatMap((byte, i) => [
      frame({ opcode: i === 0 ? Opcode.text : Opcode.continuation, payload: Buffer.from([byte]), fin: false }),
      frame({ opcode: Opcode.continuation, payload: Buffer.alloc(0), fin: false }),
    ]);
    frames.push(frame({ opcode: Opcode.continuation, payload: '!' }));
    expect(receive([Buffer.concat(frames)]).events).toStrictEqual([
      { kind: 'message', data: `${text}!`, binary: false },
    ]);
  });

  it('takes unmasked frames as a client, and many frames in one chunk', () => {
    const frames = Array.from({ length: 50 }, (_, i) => frame({ opcode: Opcode.text, payload: `m${i}`, mask: false }));
    const { events } = receive([Buffer.concat(frames)], 'client');
    expect(events.map((event) => (event.kind === 'message' ? event.data : event.kind))).toStrictEqual(
      Array.from({ length: 50 }, (_, i) => `m${i}`),
    );
  });
});

describe('receiver: violations become exactly one close code', () => {
  const cases: [string, number, Buffer[], ('server' | 'client')?][] = [
    ['RSV1 without an extension', 1002, [frame({ opcode: Opcode.text, payload: 'x', rsv: 4 })]],
    ['RSV3', 1002, [frame({ opcode: Opcode.binary, payload: 'x', rsv: 1 })]],
    ['reserved data opcode 3', 1002, [frame({ opcode: 3 })]],
    ['reserved control opcode 0xF', 1002, [frame({ opcode: 0xf })]],
    ['an unmasked frame to a server', 1002, [frame({ opcode: Opcode.text, payload: 'x', mask: false })]],
    ['a masked frame to a client', 1002, [frame({ opcode: Opcode.text, payload: 'x' })], 'client'],
    ['a fragmented close', 1002, [frame({ opcode: Opcode.close, fin: false })]],
    ['a pong over 125 bytes', 1002, [frame({ opcode: Opcode.pong, payload: Buffer.alloc(126) })]],
    ['a continuation with nothing open', 1002, [frame({ opcode: Opcode.continuation, payload: 'x' })]],
    [
      'a binary frame inside a text message',
      1002,
      [frame({ opcode: Opcode.text, payload: 'a', fin: false }), frame({ opcode: Opcode.binary, payload: 'b' })],
    ],
    ['a one-byte close payload', 1002, [frame({ opcode: Opcode.close, payload: Buffer.from([3]) })]],
    ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000].map((code): [string, number, Buffer[]] => [
      `close code ${code}`,
      1002,
      [frame({ opcode: Opcode.close, payload: closePayload(code) })],
    ]),
    [
      'a close reason that is not UTF-8',
      1007,
      [frame({ opcode: Opcode.close, payload: closePayload(1000, Buffer.from([0xc3])) })],
    ],
    ['invalid UTF-8 in one frame', 1007, [frame({ opcode: Opcode.text, payload: Buffer.from([0x61, 0xff]) })]],
    [
      'a text message that ends inside a character',
      1007,
      [
        frame({ opcode: Opcode.text, payload: Buffer.from([0x61, 0xe2]), fin: false }),
        frame({ opcode: Opcode.continuation, payload: Buffer.from([0x9c]) }),
      ],
    ],
    [
      'a 64-bit length with its most significant bit set',
      1002,
      [Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4])],
    ],
    ['a 64-bit length over 2^53', 1009, [Buffer.from([0x82, 0xff, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])]],
  ];
  it.each(cases)('%s: %i', (_name, code, frames, role = 'server') => {
    const { events, receiver } = receive([...frames, frame({ opcode: Opcode.text, payload: 'after' })], role);
    // Nothing after the violation: the trailing valid frame is ignored.
    expect(events).toStrictEqual([{ kind: 'error', code }]);
    expect(receiver.done).toBe(true);
  });

  it('accepts every valid close code and an empty close', () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
      expect(receive([frame({ opcode: Opcode.close, payload: closePayload(code, 'r') })]).events).toStrictEqual([
        { kind: 'close', code, reason: 'r' },
      ]);
    }
    expect(receive([frame({ opcode: Opcode.close })]).events).toStrictEqual([
      { kind: 'close', code: 1005, reason: '' },
    ]);
  });

  it('refuses an over-limit frame with 1009 on its header, before any payload', () => {
    const header = frame({ opcode: Opcode.binary, payload: Buffer.alloc(2048) }).subarray(0, 8);
    expect(receive([header], 'server', 1024).events).toStrictEqual([{ kind: 'error', code: 1009 }]);
  });

  it('holds no more than four times what arrived of a big frame, whatever length it announced', () => {
    const events: string[] = [];
    const receiver = new Receiver(
      { role: 'server', maxPayload: 1 << 20 },
      {
        onText: (text) => events.push(`message ${text.length}`),
        onBinary: (data) => events.push(`message ${data.length}`),
        onPing: () => {},
        onPong: () => {},
        onClose: () => {},
        onError: (error) => events.push(`error ${error.code}`),
      },
    );
    const payload = Buffer.alloc(1 << 20, 0x61);
    const bytes = frame({ opcode: Opcode.binary, payload });
    const header = 14;
    receiver.push(Buffer.from(bytes.subarray(0, header + 10)));
    expect(receiver.bufferedBytes).toBeLessThanOrEqual(16 * 1024);
    let sent = header + 10;
    for (const step of [5_000, 50_000, 100_000]) {
      receiver.push(Buffer.from(bytes.subarray(sent, sent + step)));
      sent += step;
      expect(receiver.bufferedBytes).toBeLessThanOrEqual(Math.max(4 * (sent - header), 16 * 1024));
    }
    receiver.push(Buffer.from(bytes.subarray(sent)));
    expect(events).toStrictEqual([`message ${1 << 20}`]);
  });

  it('closes 1009 on a message kept open by empty continuations, past the fragment bound', () => {
    const open = frame({ opcode: Opcode.text, payload: 'a', fin: false });
    const empty = frame({ opcode: Opcode.continuation, payload: '', fin: false });
    // 200,000 empty continuations: no size limit is ever reached.
    const { events } = receive([open, Buffer.concat(Array.from({ length: 200_000 }, () => empty))], 'server');
    expect(events).toStrictEqual([{ kind: 'error', code: 1009 }]);
    expect(defaultMaxFragments(1 << 20)).toBe(16_385);
  });

  it('takes a 4 MiB message in 65,537 frames under a 4 MiB limit (Autobahn 9.3.1 / 9.4.1)', () => {
    const piece = Buffer.alloc(64, 0x61);
    const frames = [frame({ opcode: Opcode.text, payload: piece, fin: false })];
    for (let i = 1; i < 65_536; i++) frames.push(frame({ opcode: Opcode.continuation, payload: piece, fin: false }));
    frames.push(frame({ opcode: Opcode.continuation, payload: '' }));
    const { events } = receive([Buffer.concat(frames)], 'server', 4 << 20);
    expect(events).toStrictEqual([{ kind: 'message', data: 'a'.repeat(4 << 20), binary: false }]);
  });

  it('counts the fragments of a message toward the limit', () => {
    const first = frame({ opcode: Opcode.text, payload: 'a'.repeat(600), fin: false });
    const second = frame({ opcode: Opcode.continuation, payload: 'b'.repeat(600) }).subarray(0, 8);
    expect(receive([first, second], 'server', 1024).events).toStrictEqual([{ kind: 'error', code: 1009 }]);
    // Exactly at the limit is fine.
    const whole = frame({ opcode: Opcode.text, payload: 'c'.repeat(1024) });
    expect(receive([whole], 'server', 1024).events).toHaveLength(1);
  });

  it('fails invalid UTF-8 as soon as the bad byte arrives, mid-frame (Autobahn 6.4.3/6.4.4)', () => {
    const payload = Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('edited')]);
    const bytes = frame({ opcode: Opcode.text, payload });
    // Header, the valid text, and the first two bytes of the bad sequence: the rest never sent.
    const upToBad = 6 + Buffer.byteLength('κόσμε') + 2;
    expect(receive([bytes.subarray(0, upToBad)]).events).toStrictEqual([{ kind: 'error', code: 1007 }]);
    expect(receive([bytes.subarray(0, upToBad - 1)]).events).toStrictEqual([]);
  });

  it('fails invalid UTF-8 on the fragment that brings it, before the message ends (Autobahn 6.4.1/6.4.2)', () => {
    const first = frame({ opcode: Opcode.text, payload: 'κόσμε', fin: false });
    const second = frame({ opcode: Opcode.continuation, payload: Buffer.from([0xf4, 0x90, 0x80, 0x80]), fin: false });
    expect(receive([first]).events).toStrictEqual([]);
    expect(receive([first, second]).events).toStrictEqual([{ kind: 'error', code: 1007 }]);
  });

  // Whole messages are validated by decoding: U+FFFD in the result is the sign of a bad
  // sequence, unless the sender wrote U+FFFD itself. Both sizes: the small-frame path and the
  // general one (16-bit length), both roles.
  it('tells a real U+FFFD from a decoded bad sequence, in small and large whole frames', () => {
    for (const filler of ['', 'x'.repeat(200)]) {
      for (const role of ['server', 'client'] as const) {
        const valid = `${filler}a\uFFFDb`;
        const masked = role === 'server';
        expect(receive([frame({ opcode: Opcode.text, payload: valid, mask: masked })], role).events).toStrictEqual([
          { kind: 'message', data: valid, binary: false },
        ]);
        for (const bad of [[0xff], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe2, 0x82]]) {
          const payload = Buffer.concat([Buffer.from(`${filler}a`), Buffer.from(bad), Buffer.from('\uFFFD')]);
          expect(
            receive([frame({ opcode: Opcode.text, payload, mask: masked })], role).events,
            `${role} ${filler.length} ${bad}`,
          ).toStrictEqual([{ kind: 'error', code: 1007 }]);
        }
      }
    }
  });
});

describe('receiver: properties', () => {
  /** Frame-like input: real frames with random bits wrong, and raw garbage. */
  const frameish = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc
      .record({
        opcode: fc.oneof(fc.constantFrom(0, 1, 2, 8, 9, 10), fc.nat(15)),
        fin: fc.boolean(),
        rsv: fc.oneof(fc.constant(0), fc.nat(7)),
        mask: fc.oneof(fc.constant(true), fc.boolean()),
        payload: fc.oneof(
          fc.uint8Array({ maxLength: 140 }),
          fc.string({ unit: 'binary', maxLength: 60 }).map((text) => Buffer.from(text)),
        ),
      })
      .map((spec) => new Uint8Array(frame({ ...spec, payload: Buffer.from(spec.payload) }))),
  );
  const stream = fc.array(frameish, { maxLength: 12 }).map((parts) => Buffer.concat(parts));
  const chunked = stream.chain((bytes) =>
    fc.tuple(fc.constant(bytes), fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 10 })),
  );

  it('never throws on random byte streams in random chunks; ends in messages or exactly one close code', () => {
    fc.assert(
      fc.property(chunked, fc.constantFrom('server' as const, 'client' as const), ([bytes, points], role) => {
        const bounds = [0, ...[...points].sort((a, b) => a - b), bytes.length];
        const chunks = bounds.slice(1).map((end, i) => bytes.subarray(bounds[i], end));
        const { events } = receive(chunks, role, 512);
        const ends = events.filter(terminal);
        expect(ends.length).toBeLessThanOrEqual(1);
        if (ends.length === 1) expect(terminal(events.at(-1)!)).toBe(true);
        // The split never changes the outcome.
        expect(events).toStrictEqual(receive([bytes], role, 512).events);
      }),
      { numRuns: 3_000 },
    );
  });

  const message = fc.oneof(
    fc.record({ binary: fc.constant(false), data: fc.string({ unit: 'binary', maxLength: 300 }) }),
    fc.record({ binary: fc.constant(true), data: fc.uint8Array({ maxLength: 70_000 }) }),
    fc.record({ binary: fc.constant(true), data: fc.uint8Array({ maxLength: 300 }) }),
  );
  const plan = fc.array(
    fc.record({ message, cuts: fc.uniqueArray(fc.nat(), { maxLength: 4 }), pingAfter: fc.option(fc.nat(3)) }),
    { minLength: 1, maxLength: 8 },
  );

  it('round-trips random messages, fragmented and chunked at random, with pings between fragments', () => {
    fc.assert(
      fc.property(
        plan,
        fc.uniqueArray(fc.nat(), { maxLength: 12 }),
        fc.constantFrom('server' as const, 'client' as const),
        (messages, chunkCuts, role) => {
          const frames: Buffer[] = [];
          const want: Event[] = [];
          for (const { message: m, cuts, pingAfter } of messages) {
            const bytes = m.binary ? Buffer.from(m.data as Uint8Array) : Buffer.from(m.data as string);
            // Fragment boundaries anywhere, inside a UTF-8 character too.
            const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
            const bounds = [0, ...points, bytes.length];
            for (let i = 0; i + 1 < bounds.length; i++) {
              const opcode = i === 0 ? (m.binary ? Opcode.binary : Opcode.text) : Opcode.continuation;
              const fin = i + 2 === bounds.length;
              // The sender under test frames it: masked when it is the client talking to a server.
              frames.push(encodeFrame(opcode, bytes.subarray(bounds[i], bounds[i + 1]), fin, role === 'server'));
              if (pingAfter === i && !fin) {
                frames.push(encodeFrame(Opcode.ping, Buffer.from([i]), true, role === 'server'));
                want.push({ kind: 'ping', data: Buffer.from([i]).toString('hex') });
              }
            }
            want.push({
              kind: 'message',
              data: m.binary ? bytes.toString('hex') : (m.data as string),
              binary: m.binary,
            });
          }
          const all = Buffer.concat(frames);
          const cutsAt = [...new Set(chunkCuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const bounds = [0, ...cutsAt, all.length];
          const chunks = bounds.slice(1).map((end, i) => all.subarray(bounds[i], end));
          expect(receive(chunks, role).events).toStrictEqual(want);
        },
      ),
      { numRuns: 400 },
    );
  });
});
