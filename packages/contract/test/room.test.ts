import { describe, expect, it } from 'vitest';
import { type BusEvent, encodeServerText, Room, type RoomTransport, type ServerMessage } from '../src/index.js';

/** A recording transport: the room is what is under test here, not a network. */
class Conn {
  readonly got: (ServerMessage | Uint8Array)[] = [];
  buffered = 0;
  dropped = false;
}
const transport: RoomTransport<Conn> = {
  // What the wire would carry, parsed back: payloads arrive as the exact text sent.
  send: (conn, message) => conn.got.push(JSON.parse(encodeServerText(message)) as ServerMessage),
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
