import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type Bus,
  type BusEvent,
  type ConnectionId,
  encodeServerText,
  presencePacing,
  Room,
  type RoomTransport,
  replayPresence,
  type ServerMessage,
} from '../src/index.js';

/** A recording connection: the room is under test here, not a network. */
class Conn {
  readonly got: ServerMessage[] = [];
  constructor(readonly id: ConnectionId) {}
  /** What this client was told, replayed against section 1's rule. */
  presence() {
    const [welcome, ...after] = this.got;
    if (welcome?.type !== 'welcome') throw new Error(`${this.id}: first message was ${welcome?.type}`);
    return replayPresence(this.id, welcome.members, after);
  }
}
const transport: RoomTransport<Conn> = {
  send: (conn, message) => conn.got.push(JSON.parse(encodeServerText(message)) as ServerMessage),
  sendBinary: () => {},
  bufferedAmount: () => 0,
  dropSlowConsumer: () => {},
};

/**
 * A synchronous network of rooms with links that can be cut: a cut room neither publishes
 * nor hears anything, as a process partitioned from Redis (or frozen).
 */
function network() {
  const links: { handler: ((event: BusEvent) => void) | undefined; cut: boolean }[] = [];
  return {
    link(): Bus & { cut: boolean } {
      const link = { handler: undefined as ((event: BusEvent) => void) | undefined, cut: false };
      links.push(link);
      return {
        get cut() {
          return link.cut;
        },
        set cut(value: boolean) {
          link.cut = value;
        },
        publish(event) {
          if (link.cut) return;
          for (const other of links) if (!other.cut) other.handler?.(event);
        },
        subscribe(handler) {
          link.handler = handler;
          return () => {
            link.handler = undefined;
          };
        },
      };
    },
  };
}

const TIMEOUT = 1_000;
const { heartbeat, silence } = presencePacing(TIMEOUT);

describe('Room presence on a bus', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const setup = () => {
    const net = network();
    const links = [net.link(), net.link(), net.link()];
    // The rooms' clock: fake time, plus a jump that no timer sees (a frozen process).
    const clock = { jumped: 0, now: () => performance.now() + clock.jumped };
    const rooms = links.map((bus) => new Room(transport, { bus, presenceTimeout: TIMEOUT, clock: clock.now }));
    const conns: Conn[][] = [[], [], []];
    const connect = (room: number, id: ConnectionId): Conn => {
      const conn = new Conn(id);
      rooms[room]!.add(conn, id);
      conns[room]!.push(conn);
      return conn;
    };
    const everyone = () => conns.flat();
    return { links, rooms, conns, connect, everyone, clock };
  };

  it("welcomes with every room's clients and tells each change once", () => {
    const { rooms, connect } = setup();
    const a = connect(0, 'A');
    const b = connect(1, 'B');
    const c = connect(2, 'C');
    expect(b.got[0]).toStrictEqual({ type: 'welcome', id: 'B', members: ['A'] });
    expect(new Set((c.got[0] as { members: string[] }).members)).toStrictEqual(new Set(['A', 'B']));
    vi.advanceTimersByTime(TIMEOUT * 3);
    for (const conn of [a, b, c]) expect(conn.presence().breaches).toStrictEqual([]);
    expect(a.got).toStrictEqual([
      { type: 'welcome', id: 'A', members: [] },
      { type: 'join', id: 'B' },
      { type: 'join', id: 'C' },
    ]);
    for (const room of rooms) room.close();
  });

  it('a room cut off is gone for the others within the timeout, and comes back with its clients', () => {
    const { links, rooms, connect, everyone } = setup();
    const a = connect(0, 'A');
    const b1 = connect(1, 'B1');
    connect(1, 'B2');
    const c = connect(2, 'C');
    links[1]!.cut = true;
    vi.advanceTimersByTime(silence - heartbeat / 2);
    // A few missed heartbeats are not yet the silence that means gone.
    expect(a.presence().present).toStrictEqual(new Set(['B1', 'B2', 'C']));
    vi.advanceTimersByTime(TIMEOUT - (silence - heartbeat / 2));
    expect(a.presence().present).toStrictEqual(new Set(['C']));
    expect(c.presence().present).toStrictEqual(new Set(['A']));
    // The cut room's clients lose the others, and keep each other.
    expect(b1.presence().present).toStrictEqual(new Set(['B2']));

    // While cut off: B2 leaves, D joins on room 0, B3 joins on room 1.
    rooms[1]!.remove(everyone().find((conn) => conn.id === 'B2')!);
    connect(0, 'D');
    connect(1, 'B3');
    links[1]!.cut = false;
    vi.advanceTimersByTime(heartbeat * 2);
    const all = everyone().filter((conn) => conn.id !== 'B2');
    for (const conn of all) {
      const { present, breaches } = conn.presence();
      expect(breaches, conn.id).toStrictEqual([]);
      expect(present, conn.id).toStrictEqual(new Set(all.map((o) => o.id).filter((id) => id !== conn.id)));
    }
    for (const room of rooms) room.close();
  });

  it('a room that closes says bye: its clients leave at once, without waiting for the timeout', () => {
    const { rooms, connect } = setup();
    const a = connect(0, 'A');
    const b = connect(1, 'B');
    rooms[1]!.close();
    expect(a.presence().present).toStrictEqual(new Set());
    expect(a.presence().breaches).toStrictEqual([]);
    expect(b.got).toStrictEqual([{ type: 'welcome', id: 'B', members: ['A'] }]);
    rooms[0]!.close();
    rooms[2]!.close();
  });

  it('a room frozen past the timeout does not drop the others for its own silence', () => {
    const { rooms, connect, clock } = setup();
    const a = connect(0, 'A');
    connect(1, 'B');
    // Freeze: time passes without any timer of any room running, then everything resumes.
    clock.jumped = TIMEOUT * 5;
    vi.advanceTimersByTime(heartbeat);
    vi.advanceTimersByTime(TIMEOUT * 2);
    expect(a.presence().present).toStrictEqual(new Set(['B']));
    expect(a.presence().breaches).toStrictEqual([]);
    expect(a.got.filter((m) => m.type === 'leave')).toStrictEqual([]);
    for (const room of rooms) room.close();
  });
});
