import { describe, expect, it } from 'vitest';
import {
  type BusEvent,
  encodeServerText,
  Room,
  type RoomTransport,
  type ServerMessage,
  type ServerObserver,
} from '../src/index.js';

/** A recording transport: the room is what is under test here, not a network. */
class Conn {
  readonly got: (ServerMessage | Uint8Array)[] = [];
  buffered = 0;
  dropped = false;
}
const transport: RoomTransport<Conn> = {
  // What the wire carries, parsed back: payloads arrive as the exact text sent.
  sendText: (conn, text) => conn.got.push(JSON.parse(text) as ServerMessage),
  sendBinary: (conn, data) => conn.got.push(data),
  bufferedAmount: (conn) => conn.buffered,
  dropSlowConsumer: (conn) => {
    conn.dropped = true;
  },
};

describe('Room', () => {
  it('welcomes, announces joins and leaves', () => {
    const room = new Room(transport);
    const a = new Conn();
    const b = new Conn();
    room.add(a, 'A');
    room.add(b, 'B');
    room.remove(a);
    room.remove(a);
    expect(a.got).toEqual([
      { type: 'welcome', id: 'A', members: [] },
      { type: 'join', id: 'B' },
    ]);
    expect(b.got).toEqual([
      { type: 'welcome', id: 'B', members: ['A'] },
      { type: 'leave', id: 'A' },
    ]);
  });

  it('broadcasts to all, then tells the sender how many got it', () => {
    const room = new Room(transport);
    const [a, b] = [new Conn(), new Conn()];
    room.add(a, 'A');
    room.add(b, 'B');
    room.receiveText(a, '{"type":"broadcast","payload":{"x":1}}');
    expect(a.got.slice(-2)).toEqual([
      { type: 'broadcast', from: 'A', payload: { x: 1 } },
      { type: 'broadcastResult', payload: { x: 1 }, recipients: 2 },
    ]);
    expect(b.got.at(-1)).toEqual({ type: 'broadcast', from: 'A', payload: { x: 1 } });
  });

  it('answers a bad request to the sender alone', () => {
    const room = new Room(transport);
    const [a, b] = [new Conn(), new Conn()];
    room.add(a, 'A');
    room.add(b, 'B');
    room.receiveText(a, 'nope');
    expect(a.got.at(-1)).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(b.got).toHaveLength(1);
  });

  it('drops a connection over the outbound limit and tells the others', () => {
    const room = new Room(transport, { outboundLimit: 100 });
    const [a, b] = [new Conn(), new Conn()];
    room.add(a, 'A');
    room.add(b, 'B');
    b.buffered = 101;
    room.receiveText(a, '{"type":"broadcast","payload":1}');
    expect(b.dropped).toBe(true);
    expect(room.size).toBe(1);
    expect(room.peakBufferedBytes).toBe(101);
    expect(a.got).toContainEqual({ type: 'leave', id: 'B' });
    expect(a.got.at(-1)).toEqual({ type: 'broadcastResult', payload: 1, recipients: 2 });
  });

  it('publishes to the bus and delivers what other rooms published', () => {
    const handlers: ((event: BusEvent) => void)[] = [];
    const published: BusEvent[] = [];
    const bus = {
      publish: (event: BusEvent) => {
        published.push(event);
        for (const handler of handlers) handler(event);
      },
      subscribe: (handler: (event: BusEvent) => void) => {
        handlers.push(handler);
        return () => handlers.splice(handlers.indexOf(handler), 1);
      },
    };
    const one = new Room(transport, { bus });
    const two = new Room(transport, { bus });
    const [a, b] = [new Conn(), new Conn()];
    one.add(a, 'A');
    two.add(b, 'B');
    one.receiveText(a, '{"type":"broadcast","payload":"hi"}');
    expect(a.got).toEqual([
      { type: 'welcome', id: 'A', members: [] },
      { type: 'join', id: 'B' },
      { type: 'broadcast', from: 'A', payload: 'hi' },
      { type: 'broadcastResult', payload: 'hi', recipients: 1 },
    ]);
    // two heard one's join: B's roster holds A.
    expect(b.got).toEqual([
      { type: 'welcome', id: 'B', members: ['A'] },
      { type: 'broadcast', from: 'A', payload: 'hi' },
    ]);
    // Each room asked for the others' rosters on start; one answered two's ask.
    expect(published.map((e) => (e.kind === 'presence' ? e.mode : e.kind))).toEqual([
      'ask',
      'ask',
      'answer',
      'join',
      'join',
      'broadcast',
    ]);
    one.close();
    two.close();
  });
});

describe('Room observer', () => {
  /** Every observer call, as `method kind count`. */
  const recording = () => {
    const calls: string[] = [];
    const observer: ServerObserver = {
      connectionOpened: (remote) => calls.push(`opened ${remote}`),
      messageIn: (kind) => calls.push(`in ${kind}`),
      messageOut: (kind, count) => calls.push(`out ${kind} ${count}`),
      bytesIn: (kind, bytes) => calls.push(`bytesIn ${kind} ${bytes}`),
      bytesOut: (kind, bytes) => calls.push(`bytesOut ${kind} ${bytes}`),
      badRequest: () => calls.push('badRequest'),
      slowConsumerDropped: () => calls.push('slow'),
      busPublished: (kind) => calls.push(`published ${kind}`),
      busReceived: (kind) => calls.push(`received ${kind}`),
      fanout: (seconds, recipients) => calls.push(`fanout ${recipients} ${seconds >= 0}`),
    };
    return { calls, observer };
  };

  it('is told of every message in and out, with the bytes of their wire text', () => {
    const { calls, observer } = recording();
    const room = new Room(transport, { observer });
    const [a, b] = [new Conn(), new Conn()];
    room.add(a, 'A', '127.0.0.1');
    room.add(b, 'B', '::1');
    expect(room.remoteAddressOf(b)).toBe('::1');
    calls.length = 0;
    const echo = '{"type":"echo","payload":[1,2]}';
    room.receiveText(a, echo);
    expect(calls).toEqual([
      `bytesIn text ${echo.length}`,
      'in echo',
      'out echo 1',
      `bytesOut text ${'{"type":"echo","payload":[1,2]}'.length}`,
    ]);
    calls.length = 0;
    room.receiveText(a, '{"type":"broadcast","payload":"x"}');
    const copy = encodeServerText({ type: 'broadcast', from: 'A', payload: 'x' }).length;
    expect(calls).toEqual([
      'bytesIn text 34',
      'in broadcast',
      'out broadcast 2',
      `bytesOut text ${copy * 2}`,
      'fanout 2 true',
      'out broadcastResult 1',
      `bytesOut text ${encodeServerText({ type: 'broadcastResult', payload: 'x', recipients: 2 }).length}`,
    ]);
    calls.length = 0;
    room.receiveText(a, 'nope');
    expect(calls.slice(1, 4)).toEqual(['in invalid', 'badRequest', 'out error 1']);
    calls.length = 0;
    room.receiveBinary(a, new Uint8Array(5));
    expect(calls).toEqual(['in binary', 'out binary 1', 'bytesIn binary 5', 'bytesOut binary 5']);
  });

  it('is told of slow-consumer drops and bus traffic', () => {
    const { calls, observer } = recording();
    let deliver: ((event: BusEvent) => void) | undefined;
    const bus = {
      publish: () => {},
      subscribe: (handler: (event: BusEvent) => void) => {
        deliver = handler;
        return () => {};
      },
    };
    const room = new Room(transport, { observer, bus, outboundLimit: 10 });
    const a = new Conn();
    room.add(a, 'A');
    expect(calls).toContain('published join');
    deliver?.({ kind: 'broadcast', origin: 'elsewhere', from: 'Z', payload: 1 });
    expect(calls).toContain('received broadcast');
    expect(calls.filter((c) => c.startsWith('fanout'))).toEqual(['fanout 1 true']);
    a.buffered = 11;
    room.receiveText(a, '{"type":"echo","payload":1}');
    expect(calls).toContain('slow');
    expect(calls.at(-1)).toBe('published leave');
  });

  it('counts the bytes of the one text a fan-out hands the transport', () => {
    const { calls, observer } = recording();
    const texts: string[] = [];
    const room = new Room(
      {
        ...transport,
        sendTextToMany: (conns, text) => {
          texts.push(text);
          for (const conn of conns) transport.sendText(conn, text);
        },
      },
      { observer },
    );
    const [a, b] = [new Conn(), new Conn()];
    room.add(a, 'A');
    room.add(b, 'B');
    texts.length = 0;
    calls.length = 0;
    // Not ASCII: the UTF-8 bytes, not the string's length.
    room.receiveText(a, '{"type":"broadcast","payload":"héllo ✓"}');
    expect(texts).toEqual([encodeServerText({ type: 'broadcast', from: 'A', payload: 'héllo ✓' })]);
    expect(calls).toContain(`bytesOut text ${Buffer.byteLength(texts[0]!) * 2}`);
    expect(b.got.at(-1)).toEqual({ type: 'broadcast', from: 'A', payload: 'héllo ✓' });
  });

  it('leaves the bytes to a transport that encodes messages itself (socket.io)', () => {
    const { calls, observer } = recording();
    const got: ServerMessage[] = [];
    const { sendText: _, ...base } = transport;
    const room = new Room({ ...base, send: (_conn, message) => got.push(message) }, { observer });
    const a = new Conn();
    room.add(a, 'A');
    room.receiveText(a, '{"type":"echo","payload":1}');
    expect(calls.filter((c) => c.startsWith('bytes'))).toEqual([]);
    expect(calls).toContain('out echo 1');
    expect(got.map((message) => message.type)).toEqual(['welcome', 'echo']);
  });
});
