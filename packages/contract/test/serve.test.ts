import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Bus,
  type BusEvent,
  eventually,
  type Logger,
  type RealtimeServer,
  Room,
  type RoomTransport,
  resolveServerOptions,
  serve,
  silentLogger,
} from '../src/index.js';

/** Connections are plain objects; what is under test is the lifecycle around them. */
interface Conn {
  pings: number;
}

function recordingLogger(): Logger & { lines: { msg: string | undefined; obj: object }[] } {
  const lines: { msg: string | undefined; obj: object }[] = [];
  const record = (obj: object, msg?: string) => lines.push({ obj, msg });
  return { debug: record, info: record, warn: record, error: record, lines };
}

describe('serve (the server lifecycle)', () => {
  const servers: RealtimeServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  const start = async (parts: { transport?: Partial<RoomTransport<Conn>>; bus?: Bus; logger?: Logger } = {}) => {
    const steps: string[] = [];
    const options = resolveServerOptions({
      heartbeatInterval: 20,
      logger: parts.logger ?? silentLogger,
      ...(parts.bus ? { bus: parts.bus } : {}),
    });
    const transport: RoomTransport<Conn> = {
      send: () => {},
      sendBinary: () => {},
      bufferedAmount: () => 0,
      dropSlowConsumer: () => {},
      ...parts.transport,
    };
    const room = new Room(transport, options);
    const server: Server = createServer((socket) => socket.destroy());
    const handle = await serve({
      server,
      scheme: 'ws',
      options,
      room,
      shutdown: async () => {
        steps.push('shutdown');
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    });
    servers.push(handle);
    return { handle, room, server, steps };
  };

  it('listens on a free port and says where', async () => {
    const { handle, server } = await start();
    expect(server.listening).toBe(true);
    expect(handle.port).toBeGreaterThan(0);
    expect(handle.url).toBe(`ws://127.0.0.1:${handle.port}/`);
    expect(handle.connectionCount).toBe(0);
  });

  it('keeps an error logger on the listening server: a later error is logged, not thrown', async () => {
    const logger = recordingLogger();
    const { server } = await start({ logger });
    const failure = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
    expect(() => server.emit('error', failure)).not.toThrow();
    expect(logger.lines).toContainEqual({ msg: 'server error', obj: { err: 'accept EMFILE', code: 'EMFILE' } });
  });

  it('rejects when the port is taken, with the error of listen()', async () => {
    const { handle } = await start();
    const options = resolveServerOptions({ port: handle.port });
    const room = new Room<Conn>({ send() {}, sendBinary() {}, bufferedAmount: () => 0, dropSlowConsumer() {} });
    await expect(
      serve({ server: createServer(), scheme: 'ws', options, room, shutdown: async () => {} }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('starts the room heartbeat on listening and stops it before the adapter shutdown', async () => {
    const conn: Conn = { pings: 0 };
    const { handle, room, steps } = await start({
      transport: {
        heartbeat: {
          ping: (c) => {
            c.pings++;
          },
          terminate: () => {},
        },
      },
    });
    room.add(conn);
    await eventually(() => conn.pings > 0, 5_000, 'the first heartbeat ping');
    await handle.close();
    const pingsAtClose = conn.pings;
    // Five intervals without a ping: the timer is gone.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(conn.pings, 'no ping after close()').toBe(pingsAtClose);
    expect(steps).toEqual(['shutdown']);
  });

  it('runs the shutdown once however often close() is called, then leaves the bus', async () => {
    const handlers = new Set<(event: BusEvent) => void>();
    const bus: Bus = {
      publish: () => {},
      subscribe: (handler) => {
        handlers.add(handler);
        return () => handlers.delete(handler);
      },
    };
    const { handle, steps } = await start({ bus });
    expect(handlers.size).toBe(1);
    const first = handle.close();
    const second = handle.close();
    expect(second).toBe(first);
    await first;
    await handle.close();
    expect(steps).toEqual(['shutdown']);
    expect(handlers.size, 'the room unsubscribed from the bus').toBe(0);
  });
});
