import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULTS,
  type GuardOptions,
  guardHttpServer,
  type HandshakeVerdict,
  requestHeadSize,
  SUBPROTOCOL,
  silentLogger,
  within,
} from '../src/index.js';

const KiB = 1024;
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';

interface Accepted {
  request: IncomingMessage;
  head: Buffer;
  verdict: HandshakeVerdict & { ok: true };
  /** The guard's handshaking set, as the accept callback saw it. */
  handshakingSize: number;
}

/** One guarded node:http server on 127.0.0.1, port 0; its accept answers 101 and echoes every byte after. */
interface Guarded {
  server: Server;
  port: number;
  handshaking: Set<Duplex>;
  accepted: Accepted[];
  /** The server side of the next connection, and its close. */
  nextConnection(): Promise<{ socket: Socket; closed: Promise<unknown> }>;
}

const servers: { server: Server; sockets: Set<Socket> }[] = [];
const peers: Socket[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const peer of peers.splice(0)) peer.destroy();
  for (const { server, sockets } of servers.splice(0)) {
    // Upgraded sockets are no longer the http server's: close() would wait for them.
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function guarded(options: Partial<GuardOptions> = {}): Promise<Guarded> {
  const server = createHttpServer({ maxHeaderSize: DEFAULTS.maxHeadSize });
  const accepted: Accepted[] = [];
  const handshaking = guardHttpServer(
    server,
    {
      allowedOrigins: DEFAULTS.allowedOrigins,
      requireProtocol: false,
      handshakeTimeout: DEFAULTS.handshakeTimeout,
      logger: silentLogger,
      ...options,
    },
    (request, socket, head, verdict) => {
      accepted.push({ request, head, verdict, handshakingSize: handshaking.size });
      socket.write(SWITCHING);
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    },
  );
  const sockets = new Set<Socket>();
  const waiting: ((connection: { socket: Socket; closed: Promise<unknown> }) => void)[] = [];
  // Registered after the guard's listener, so this close listener runs after the guard's.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    const closed = closeOf(socket);
    waiting.shift()?.({ socket, closed });
  });
  servers.push({ server, sockets });
  server.listen(0, '127.0.0.1');
  await within(once(server, 'listening'), 5_000, 'the guarded server to listen');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    handshaking,
    accepted,
    nextConnection: () =>
      within(new Promise((resolve) => waiting.push(resolve)), 5_000, 'the server to see the connection'),
  };
}

/** A socket's close, errors included (`events.once` would reject on the 'error' before it). */
function closeOf(socket: Socket): Promise<unknown> {
  return new Promise((resolve) => socket.once('close', resolve));
}

/** A raw TCP client: what it sends is exactly the bytes on the wire. */
class Peer {
  private received = '';
  private readonly socket: Socket;
  readonly closed: Promise<unknown>;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    peers.push(this.socket);
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => {
      this.received += chunk;
      this.socket.emit('received');
    });
    this.socket.on('error', () => {}); // a reset after a refusal is fine; `closed` still resolves
    this.closed = closeOf(this.socket);
  }

  write(text: string): void {
    this.socket.write(text, 'latin1');
  }

  reset(): void {
    this.socket.resetAndDestroy();
  }

  /** Everything received so far, once `done` holds for it. */
  async until(done: (text: string) => boolean, what: string): Promise<string> {
    const wait = async (): Promise<string> => {
      while (!done(this.received)) {
        if (this.socket.destroyed) throw new Error(`connection closed; received: ${JSON.stringify(this.received)}`);
        await Promise.race([new Promise((resolve) => this.socket.once('received', resolve)), this.closed]);
      }
      return this.received;
    };
    return within(wait(), 5_000, what);
  }

  /** The complete HTTP response: its head, and its body by Content-Length or chunked. */
  async response(): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const text = await this.until((t) => parseResponse(t) !== undefined, 'a complete HTTP response');
    return parseResponse(text)!;
  }

  async waitClosed(): Promise<void> {
    await within(this.closed, 5_000, 'the server to close the connection');
  }
}

function parseResponse(text: string): { status: number; headers: Record<string, string>; body: string } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(statusLine.split(' ')[1]);
  let rest = text.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let body = '';
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(rest.slice(0, lineEnd), 16);
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) return { status, headers, body };
      body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
      rest = rest.slice(lineEnd + 2 + size + 2);
    }
  }
  const length = Number(headers['content-length'] ?? 0);
  return rest.length < length ? undefined : { status, headers, body: rest.slice(0, length) };
}

async function peerOf(guard: Guarded): Promise<{ peer: Peer; server: { socket: Socket; closed: Promise<unknown> } }> {
  const server = guard.nextConnection();
  const peer = new Peer(guard.port);
  return { peer, server: await server };
}

/** An upgrade request's head; `extra` lines go before the blank line. */
function upgradeHead(extra: string[] = [], path = '/'): string {
  return [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${KEY}`,
    ...extra,
    '',
    '',
  ].join('\r\n');
}

/** A valid upgrade head of exactly `size` bytes on the wire, padded in one header. */
function upgradeHeadOfSize(size: number): string {
  const bare = upgradeHead(['X-Pad: ']);
  const head = upgradeHead([`X-Pad: ${'p'.repeat(size - bare.length)}`]);
  expect(head.length).toBe(size);
  return head;
}

describe('guardHttpServer', () => {
  it('answers a plain HTTP request with 426, Upgrade: websocket and a body that says why, then closes', async () => {
    const guard = await guarded();
    const { peer } = await peerOf(guard);
    peer.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const response = await peer.response();
    expect(response.status).toBe(426);
    expect(response.headers.upgrade).toBe('websocket');
    expect(response.headers.connection).toBe('close');
    expect(response.body).toBe('this is a WebSocket server: send an upgrade request (Upgrade: websocket)\n');
    await peer.waitClosed();
    expect(guard.accepted).toStrictEqual([]);
  });

  it('answers 408 to a head not complete within the handshake timeout, closes, and forgets the socket', async () => {
    const guard = await guarded({ handshakeTimeout: 100 });
    const { peer, server } = await peerOf(guard);
    expect(guard.handshaking.has(server.socket)).toBe(true);
    peer.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // and never the rest
    const response = await peer.response();
    expect(response.status).toBe(408);
    expect(response.body).toBe('request head not complete within the handshake timeout\n');
    await peer.waitClosed();
    await within(server.closed, 5_000, 'the server side to close');
    expect(guard.handshaking.size).toBe(0);
  });

  it('answers 408 to a connection that sends nothing at all', async () => {
    const guard = await guarded({ handshakeTimeout: 100 });
    const { peer } = await peerOf(guard);
    expect((await peer.response()).status).toBe(408);
    await peer.waitClosed();
  });

  it("answers 408, not 400, to Node's own request timeout (a body that never completes)", async () => {
    const server = createHttpServer({ requestTimeout: 200, connectionsCheckingInterval: 50 });
    // A plain-HTTP library (socket.io's polling) that waits for the body before it answers.
    guardHttpServer(
      server,
      {
        allowedOrigins: DEFAULTS.allowedOrigins,
        requireProtocol: false,
        handshakeTimeout: DEFAULTS.handshakeTimeout,
        logger: silentLogger,
        serve: (request) => request.resume(),
      },
      () => {},
    );
    servers.push({ server, sockets: new Set() });
    server.listen(0, '127.0.0.1');
    await within(once(server, 'listening'), 5_000, 'the guarded server to listen');
    const peer = new Peer((server.address() as AddressInfo).port);
    peer.write('POST /socket.io/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nab');
    const response = await peer.response();
    expect(response.status).toBe(408);
    expect(response.body).toBe('request not complete in time\n');
  });

  it('answers 431 to a head over Node’s own header limit', async () => {
    const guard = await guarded();
    const { peer } = await peerOf(guard);
    peer.write(upgradeHead([`X-Pad: ${'p'.repeat(17 * KiB)}`]));
    const response = await peer.response();
    expect(response.status).toBe(431);
    expect(response.body).toBe('request head too large\n');
    await peer.waitClosed();
    expect(guard.accepted).toStrictEqual([]);
  });

  it('counts the request line: a head of 16 KiB + 1 byte gets 431 though its header lines alone are under 16 KiB', async () => {
    const guard = await guarded();
    const head = upgradeHeadOfSize(16 * KiB + 1);
    const headerLines = head.slice(head.indexOf('\r\n') + 2);
    expect(headerLines.length).toBeLessThan(16 * KiB);
    const { peer } = await peerOf(guard);
    peer.write(head);
    expect((await peer.response()).status).toBe(431);
    await peer.waitClosed();
    expect(guard.accepted).toStrictEqual([]);
  });

  it('a long path counts too: a head of 16 KiB + 1 byte made long by its request line gets 431', async () => {
    const guard = await guarded();
    const bare = upgradeHead([], '/');
    const head = upgradeHead([], `/${'a'.repeat(16 * KiB + 1 - bare.length)}`);
    expect(head.length).toBe(16 * KiB + 1);
    const { peer } = await peerOf(guard);
    peer.write(head);
    expect((await peer.response()).status).toBe(431);
    await peer.waitClosed();
  });

  it('accepts an upgrade head of exactly 16 KiB', async () => {
    const guard = await guarded();
    const { peer } = await peerOf(guard);
    peer.write(upgradeHeadOfSize(16 * KiB));
    await peer.until((text) => text === SWITCHING, 'the 101');
    expect(guard.accepted).toHaveLength(1);
  });

  it('answers 431 to a head over 16 KiB made of many small headers', async () => {
    const guard = await guarded();
    const head = upgradeHead(Array.from({ length: 2_500 }, (_, i) => `h${i}: v`));
    expect(head.length).toBeGreaterThan(20 * KiB);
    const { peer } = await peerOf(guard);
    peer.write(head);
    expect((await peer.response()).status).toBe(431);
    await peer.waitClosed();
    expect(guard.accepted).toStrictEqual([]);
  });

  it('answers 431 to a head over 16 KiB made long by whitespace before a header value', async () => {
    const guard = await guarded();
    const head = upgradeHead([`X-Pad:${' '.repeat(17 * KiB)}p`]);
    const { peer } = await peerOf(guard);
    peer.write(head);
    expect((await peer.response()).status).toBe(431);
    await peer.waitClosed();
    expect(guard.accepted).toStrictEqual([]);
  });

  it('hands a good upgrade to the accept callback with its verdict, the bytes after the head, and out of the handshaking set', async () => {
    const guard = await guarded();
    const { peer, server } = await peerOf(guard);
    expect([...guard.handshaking]).toStrictEqual([server.socket]);
    // The first frame's bytes may come in the same packet as the head: they must reach the handler.
    peer.write(`${upgradeHead([`Sec-WebSocket-Protocol: chat, ${SUBPROTOCOL}`], '/room?x=1')}early`);
    await peer.until((text) => text === `${SWITCHING}early`, 'the 101 and the early bytes echoed');
    peer.write('later');
    await peer.until((text) => text === `${SWITCHING}earlylater`, 'the later bytes echoed');
    expect(guard.accepted).toHaveLength(1);
    const [accepted] = guard.accepted;
    expect(accepted?.verdict).toStrictEqual({ ok: true, protocol: SUBPROTOCOL, key: KEY });
    expect(accepted?.request.url).toBe('/room?x=1');
    expect(accepted?.handshakingSize).toBe(0);
    expect(guard.handshaking.size).toBe(0);
  });

  it('a good upgrade offering no subprotocol gets a verdict without one', async () => {
    const guard = await guarded();
    const { peer } = await peerOf(guard);
    peer.write(upgradeHead());
    await peer.until((text) => text === SWITCHING, 'the 101');
    expect(guard.accepted[0]?.verdict).toStrictEqual({ ok: true, protocol: undefined, key: KEY });
  });

  it('clears the handshake timer of an accepted upgrade: no 408 lands on the upgraded connection later', async () => {
    const guard = await guarded({ handshakeTimeout: 100 });
    // Only the timer functions the guard calls; the sockets keep Node's own timers.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { peer } = await peerOf(guard);
    peer.write(upgradeHead());
    await peer.until((text) => text === SWITCHING, 'the 101');
    vi.advanceTimersByTime(10 * 100);
    // Bytes are delivered in order: a 408 written at the timeout would come before this echo.
    peer.write('ping');
    expect(await peer.until((text) => text.endsWith('ping'), 'the echo')).toBe(`${SWITCHING}ping`);
  });

  it('refuses an origin not on the allowlist with 403 before any upgrade', async () => {
    const guard = await guarded();
    const { peer } = await peerOf(guard);
    peer.write(upgradeHead(['Origin: http://evil.example']));
    const response = await peer.response();
    expect(response.status).toBe(403);
    expect(response.body).toBe('origin not allowed\n');
    await peer.waitClosed();
    expect(guard.accepted).toStrictEqual([]);
  });

  it('passes the verdict’s headers on: a wrong version gets 426 with Sec-WebSocket-Version: 13', async () => {
    const guard = await guarded();
    const { peer } = await peerOf(guard);
    peer.write(upgradeHead().replace('Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8'));
    const response = await peer.response();
    expect(response.status).toBe(426);
    expect(response.headers['sec-websocket-version']).toBe('13');
    await peer.waitClosed();
  });

  it('refuses what is not HTTP with 400', async () => {
    const guard = await guarded();
    const { peer } = await peerOf(guard);
    peer.write('\x16\x03\x01\x02\x00 not http at all\r\n\r\n');
    const response = await peer.response();
    expect(response.status).toBe(400);
    expect(response.body).toBe('malformed HTTP request\n');
    await peer.waitClosed();
  });

  it('forgets a socket whose peer resets in the middle of its head, and goes on serving', async () => {
    const guard = await guarded();
    const { peer, server } = await peerOf(guard);
    peer.write('GET / HTTP/1.1\r\nHo');
    expect(guard.handshaking.size).toBe(1);
    peer.reset();
    await within(server.closed, 5_000, 'the server side to close');
    expect(guard.handshaking.size).toBe(0);
    const next = await peerOf(guard);
    next.peer.write(upgradeHead());
    await next.peer.until((text) => text === SWITCHING, 'the next client’s 101');
  });

  it('with `serve`, hands plain requests to it instead of the 426, still under the head limit', async () => {
    const guard = await guarded({
      serve: (request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/plain', Connection: 'close' });
        response.end(`served ${request.url}\n`);
      },
    });
    const first = await peerOf(guard);
    first.peer.write('GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const served = await first.peer.response();
    expect(served.status).toBe(200);
    expect(served.body).toBe('served /poll\n');
    const second = await peerOf(guard);
    second.peer.write(`GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'p'.repeat(16 * KiB)}\r\n\r\n`);
    expect((await second.peer.response()).status).toBe(431);
  });

  it('measures an upgrade that follows a plain request on a keep-alive connection by its own head', async () => {
    const guard = await guarded({
      serve: (_request, response) => {
        response.writeHead(200, { 'Content-Length': '2' });
        response.end('ok');
      },
    });
    const { peer } = await peerOf(guard);
    peer.write(`GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'p'.repeat(8 * KiB)}\r\n\r\n`);
    const served = await peer.response();
    expect(served.body).toBe('ok');
    expect(served.headers.connection).toBe('keep-alive');
    // 8 KiB read before, plus this 16 KiB head: still a head of 16 KiB, accepted.
    peer.write(upgradeHeadOfSize(16 * KiB));
    await peer.until((text) => text.endsWith(SWITCHING), 'the 101 on the same connection');
    expect(guard.accepted).toHaveLength(1);
  });
});

describe('requestHeadSize', () => {
  it('is the size of the head on the wire for a head written the usual way', async () => {
    const guard = await guarded({
      serve: (request, response) => {
        response.writeHead(200, { Connection: 'close' });
        response.end(String(requestHeadSize(request)));
      },
    });
    const head = 'GET /path?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-One: 1\r\nX-Two: two\r\n\r\n';
    const { peer } = await peerOf(guard);
    peer.write(head);
    expect((await peer.response()).body).toBe(String(head.length));
  });
});
