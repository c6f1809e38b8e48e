import { EventEmitter, once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  closeAllGracefully,
  DEFAULTS,
  guardHttpServer,
  shutdownWebSocketServer,
  silentLogger,
  within,
} from '../src/index.js';

/** A socket's close, errors included (`events.once` would reject on an 'error' before it). */
function closeOf(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
}

/** Whether a promise has settled once the microtasks queued so far have run (fake timers only). */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const step of cleanup.splice(0)) step();
});

/** A TCP server on 127.0.0.1, port 0; `pair` connects a client and hands back both ends. */
async function loopback(): Promise<{
  pair(options?: { halfOpen?: boolean }): Promise<[client: Socket, server: Socket]>;
}> {
  const server: Server = createNetServer();
  const accepted: Socket[] = [];
  const waiting: ((socket: Socket) => void)[] = [];
  server.on('connection', (socket) => {
    accepted.push(socket);
    waiting.shift()?.(socket);
  });
  server.listen(0, '127.0.0.1');
  await within(once(server, 'listening'), 5_000, 'the TCP server to listen');
  const clients: Socket[] = [];
  cleanup.push(() => {
    for (const socket of [...clients, ...accepted]) socket.destroy();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  return {
    async pair({ halfOpen = false } = {}) {
      const serverSide = new Promise<Socket>((resolve) => waiting.push(resolve));
      // A half-open client does not answer the server's FIN with its own: it never lets go.
      const client = connect({ port, host: '127.0.0.1', allowHalfOpen: halfOpen });
      client.on('error', () => {});
      client.resume(); // a paused socket with unread bytes would not see the FIN
      clients.push(client);
      return [client, await within(serverSide, 5_000, 'the server to accept the connection')];
    },
  };
}

/** The ops of a server-side TCP socket: close is a graceful end (FIN), terminate a destroy. */
function socketOps(calls: string[], names: Map<Socket, string>) {
  return {
    close: (socket: Socket) => {
      calls.push(`close ${names.get(socket)}`);
      socket.end();
    },
    terminate: (socket: Socket) => {
      calls.push(`terminate ${names.get(socket)}`);
      socket.destroy();
    },
    closed: closeOf,
  };
}

describe('closeAllGracefully', () => {
  it('resolves at once for no connections, without a timer', async () => {
    vi.useFakeTimers();
    const calls: string[] = [];
    const done = closeAllGracefully<Socket>([], socketOps(calls, new Map()), 60_000);
    expect(vi.getTimerCount()).toBe(0);
    expect(await settled(done)).toBe(true);
    expect(calls).toStrictEqual([]);
  });

  it('asks every connection to close and resolves once all have, terminating none', async () => {
    const net = await loopback();
    const [clientA, a] = await net.pair();
    const [clientB, b] = await net.pair();
    const calls: string[] = [];
    const clientsEnded = [once(clientA, 'end'), once(clientB, 'end')];
    await within(
      closeAllGracefully(
        [a, b],
        socketOps(
          calls,
          new Map([
            [a, 'a'],
            [b, 'b'],
          ]),
        ),
        60_000,
      ),
      5_000,
      'the graceful close (the timeout is 60 s: it must not be waited for)',
    );
    expect(calls).toStrictEqual(['close a', 'close b']);
    // Each client got the server's FIN: a close, not a reset.
    await within(Promise.all(clientsEnded), 5_000, 'both clients to see the end');
    expect(a.closed && b.closed).toBe(true);
  });

  it('terminates at the timeout only the connections still open, then resolves', async () => {
    const net = await loopback();
    const [, polite] = await net.pair();
    const [, stubborn] = await net.pair({ halfOpen: true });
    const [, gone] = await net.pair();
    gone.destroy();
    await closeOf(gone);
    const names = new Map([
      [polite, 'polite'],
      [stubborn, 'stubborn'],
      [gone, 'gone'],
    ]);
    const calls: string[] = [];
    // Only the timer closeAllGracefully sets; the sockets keep Node's own. The waits below are
    // on socket events, bounded by this test's timeout.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const done = closeAllGracefully([polite, stubborn, gone], socketOps(calls, names), 1_000);
    await closeOf(polite);
    expect(calls).toStrictEqual(['close polite', 'close stubborn', 'close gone']);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).not.toContain('terminate stubborn');
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.filter((call) => call.startsWith('terminate'))).toStrictEqual(['terminate stubborn']);
    await done;
    expect(stubborn.destroyed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  }, 10_000);

  it('a connection that closes inside close() (as socket.io’s disconnect does) is not taken for a straggler', async () => {
    vi.useFakeTimers();
    /** Closes synchronously: its 'close' is emitted before close() returns. */
    class SyncConn extends EventEmitter {
      close(): void {
        this.emit('close');
      }
    }
    const conns = [new SyncConn(), new SyncConn()];
    const terminated: SyncConn[] = [];
    const done = closeAllGracefully(
      conns,
      {
        close: (conn) => conn.close(),
        terminate: (conn) => terminated.push(conn),
        closed: (conn) => once(conn, 'close'),
      },
      1_000,
    );
    expect(await settled(done)).toBe(true);
    expect(terminated).toStrictEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('shutdownWebSocketServer', () => {
  /** A guarded http server: an accepted upgrade gets a 101 and its socket stays open, read and ignored. */
  async function webSocketLikeServer(): Promise<{
    http: HttpServer;
    port: number;
    handshaking: ReturnType<typeof guardHttpServer>;
    upgraded: Socket[];
  }> {
    const http = createHttpServer({ maxHeaderSize: DEFAULTS.maxHeadSize });
    const upgraded: Socket[] = [];
    const all = new Set<Socket>();
    http.on('connection', (socket: Socket) => all.add(socket));
    const handshaking = guardHttpServer(
      http,
      {
        allowedOrigins: DEFAULTS.allowedOrigins,
        requireProtocol: false,
        handshakeTimeout: DEFAULTS.handshakeTimeout,
        logger: silentLogger,
        // A request left unanswered, as a socket.io long-poll is.
        serve: () => {},
      },
      (_request, socket) => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        // Read, as a WebSocket library does: the peer's FIN is seen only by a reading socket.
        socket.resume();
        upgraded.push(socket as Socket);
        http.emit('test:upgraded');
      },
    );
    http.listen(0, '127.0.0.1');
    await within(once(http, 'listening'), 5_000, 'the http server to listen');
    cleanup.push(() => {
      for (const socket of all) socket.destroy();
      http.close();
    });
    return { http, port: (http.address() as AddressInfo).port, handshaking, upgraded };
  }

  function client(port: number, text: string): Socket {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    cleanup.push(() => socket.destroy());
    // Read what comes (and so see the server's FIN): a paused socket would never notice the close.
    socket.resume();
    if (text) socket.write(text);
    return socket;
  }

  const UPGRADE =
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

  it('stops listening, drops handshakes, closes gracefully, then the rest, in that order', async () => {
    const { http, port, handshaking, upgraded } = await webSocketLikeServer();
    const upgradedNow = (n: number) =>
      within(
        (async () => {
          while (upgraded.length < n) await once(http, 'test:upgraded');
        })(),
        5_000,
        `${n} upgrades`,
      );
    // A connection in the room, and one that left it but whose socket still lingers.
    const member = client(port, UPGRADE);
    await upgradedNow(1);
    const lingerer = client(port, UPGRADE);
    await upgradedNow(2);
    const [memberSocket, lingeringSocket] = upgraded as [Socket, Socket];
    // A plain request still in flight (never answered), and a client still in its handshake.
    const requestSeen = once(http, 'request');
    const polling = client(port, 'GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within(requestSeen, 5_000, 'the in-flight request');
    const connectionSeen = once(http, 'connection');
    const silent = client(port, '');
    const [silentSocket] = (await within(connectionSeen, 5_000, 'the silent connection')) as [Socket];
    expect([...handshaking]).toStrictEqual([silentSocket]);

    const spies = {
      listen: vi.spyOn(http, 'close'),
      handshaking: vi.spyOn(silentSocket, 'destroy'),
      lingering: vi.spyOn(lingeringSocket, 'destroy'),
      keepAlive: vi.spyOn(http, 'closeAllConnections'),
    };
    const close = vi.fn((socket: Socket) => socket.end());
    const terminate = vi.fn((socket: Socket) => socket.destroy());
    let stopped = false;
    http.once('close', () => (stopped = true));

    await within(
      shutdownWebSocketServer({
        server: http,
        handshaking,
        connections: [memberSocket],
        close,
        terminate,
        closed: closeOf,
        timeoutMs: 60_000,
        lingering: [lingeringSocket],
      }),
      5_000,
      'the shutdown (the timeout is 60 s: it must not be waited for)',
    );

    expect(stopped).toBe(true);
    expect(close).toHaveBeenCalledExactlyOnceWith(memberSocket);
    expect(terminate).not.toHaveBeenCalled();
    const steps = [
      ['stop listening', spies.listen],
      ['destroy the handshaking sockets', spies.handshaking],
      ['close the connections', close],
      ['destroy the lingering sockets', spies.lingering],
      ['close the remaining http connections', spies.keepAlive],
    ] as const;
    // The steps taken, by when each was first taken: a step left out is missing here.
    const taken = steps
      .map(([name, mock]) => ({ name, at: mock.mock.invocationCallOrder[0] }))
      .filter((step): step is { name: (typeof steps)[number][0]; at: number } => step.at !== undefined)
      .sort((x, y) => x.at - y.at)
      .map(({ name }) => name);
    expect(taken).toStrictEqual(steps.map(([name]) => name));
    // And every client saw its connection end.
    await within(
      Promise.all([closeOf(member), closeOf(lingerer), closeOf(polling), closeOf(silent)]),
      5_000,
      'every client to be closed',
    );
  }, 15_000);

  it('with nothing connected, resolves as soon as the server has stopped', async () => {
    const { http, handshaking } = await webSocketLikeServer();
    await within(
      shutdownWebSocketServer<Socket>({
        server: http,
        handshaking,
        connections: [],
        close: (socket) => socket.end(),
        terminate: (socket) => socket.destroy(),
        closed: closeOf,
        timeoutMs: 60_000,
      }),
      5_000,
      'the shutdown of an empty server',
    );
    expect(http.listening).toBe(false);
  });
});
