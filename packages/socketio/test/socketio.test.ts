import { request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { closePayload, type Joined, Opcode, RawPeer, useHarness } from '@socketlab/conformance';
import type { RealtimeServer, ServerOptions } from '@socketlab/contract';
import { CLOSE_LINGER, within } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import { adapter, SOCKET_IO_PATH } from '../src/index.js';

/**
 * What the conformance suite cannot see through a socket.io client: the raw HTTP answers of
 * the polling and upgrade paths, and limits a stock client would never run into.
 */

const KiB = 1024;
// The conformance suite's fixtures: a fresh server per test, clients and raw peers torn down after it.
const h = useHarness(adapter, adapter, {});
const start = (options: ServerOptions = {}): Promise<RealtimeServer> => h.start(options);
const join = (transport: 'websocket' | 'polling'): Promise<Joined> => h.join({ transport });

interface HttpAnswer {
  status: number;
  body: string;
}

/** One plain HTTP request on its own connection. */
function http(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A raw websocket upgrade to the socket.io path; resolves with the status line's code. */
function upgradeStatus(port: number, path: string, origin?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    let head = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      head += chunk;
      const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (match) {
        resolve(Number(match[1]));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.write(
      [
        `GET ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        ...(origin === undefined ? [] : [`Origin: ${origin}`]),
        '',
        '',
      ].join('\r\n'),
    );
  });
}

const handshakePath = `${SOCKET_IO_PATH}?EIO=4&transport=polling`;
const sessionPath = (sid: string) => `${SOCKET_IO_PATH}?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;

/** Opens an engine.io polling session by hand; returns its id. */
async function openSession(port: number): Promise<string> {
  const open = await http(port, handshakePath);
  expect(open.status).toBe(200);
  return (JSON.parse(open.body.slice(1)) as { sid: string }).sid;
}

describe('socket.io adapter: HTTP in front of engine.io', () => {
  it('answers 403 to a polling handshake and to a later poll from a foreign origin', async () => {
    const { port } = await start();
    const refused = await http(port, handshakePath, { headers: { Origin: 'http://evil.example' } });
    expect(refused).toStrictEqual({ status: 403, body: 'origin not allowed\n' });
    const sid = await openSession(port);
    const poll = await http(port, sessionPath(sid), { headers: { Origin: 'http://evil.example' } });
    expect(poll.status).toBe(403);
  });

  it('answers 403, not engine.io 400, to a websocket upgrade from a foreign origin', async () => {
    const { port } = await start();
    const path = `${SOCKET_IO_PATH}?EIO=4&transport=websocket`;
    expect(await upgradeStatus(port, path, 'http://evil.example')).toBe(403);
    expect(await upgradeStatus(port, path, 'http://localhost:5173')).toBe(101);
    expect(await upgradeStatus(port, path)).toBe(101);
  });

  it('answers 404 outside the socket.io path, for requests and upgrades', async () => {
    const { port } = await start();
    expect((await http(port, '/elsewhere/?EIO=4&transport=polling')).status).toBe(404);
    expect(await upgradeStatus(port, '/elsewhere/?EIO=4&transport=websocket')).toBe(404);
  });

  it('ends the session of a polling POST over maxPayload, not only the request', async () => {
    const { port } = await start({ maxPayload: 16 * KiB });
    const sid = await openSession(port);
    const post = await http(port, sessionPath(sid), {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      body: `4${'x'.repeat(16 * KiB)}`,
    });
    expect(post.status).toBe(413);
    // engine.io alone would keep the session; here it is gone.
    const poll = await http(port, sessionPath(sid));
    expect(poll.status).toBe(400);
    expect(JSON.parse(poll.body)).toMatchObject({ message: 'Session ID unknown' });
  });

  it('refuses new sessions with 503 while shutting down, and still lets existing ones close', async () => {
    const s = await start({ shutdownTimeout: 2_000 });
    const polite = await join('polling');
    const stuck = await join('polling');
    stuck.client.pauseReading();
    // Its poll in flight is answered with this broadcast; after that it polls no more.
    polite.client.send({ type: 'broadcast', payload: 'last' });
    await stuck.client.receive('broadcast');
    const closing = s.close();
    const refused = await http(s.port, handshakePath);
    expect(refused.status).toBe(503);
    // The polite client needs new polls during the shutdown to get its close.
    await within(polite.client.closed, 5_000, 'the polite polling client to be closed');
    await within(closing, 10_000, 'server.close()');
    expect(s.connectionCount).toBe(0);
  });
});

describe.each(['websocket', 'polling'] as const)('socket.io adapter over %s', (transport) => {
  it('limits a message with binary parts by its total size, not part by part', async () => {
    const limit = 64 * KiB;
    await start({ maxPayload: limit });
    const a = await join(transport);
    const b = await join(transport);
    expect(await a.client.receive('join')).toStrictEqual({ type: 'join', id: b.id });
    const part = (size: number) => new Uint8Array(size).fill(7);
    a.client.send({ type: 'echo', payload: { one: part(20 * KiB), two: part(20 * KiB) } });
    const reply = await a.client.receive('echo');
    expect((reply.payload as { two: Uint8Array }).two.byteLength).toBe(20 * KiB);
    // Each part is under the limit, together they are over it.
    a.client.send({ type: 'echo', payload: { one: part(40 * KiB), two: part(40 * KiB) } });
    await within(a.client.closed, 10_000, 'the over-limit client to be disconnected');
    expect(await b.client.receive('leave')).toStrictEqual({ type: 'leave', id: a.id });
    b.client.send({ type: 'echo', payload: 'unaffected' });
    expect(await b.client.receive('echo')).toStrictEqual({ type: 'echo', payload: 'unaffected' });
  });

  it('refuses a foreign origin with a HandshakeError carrying 403', async () => {
    await start({ allowedOrigins: ['https://app.example'] });
    await expect(h.connect({ transport, origin: 'https://evil.example' })).rejects.toMatchObject({
      name: 'HandshakeError',
      status: 403,
    });
    const allowed = await h.connect({ transport, origin: 'https://app.example' });
    await allowed.receive('welcome');
  });
});

/**
 * A raw websocket peer on socket.io that keeps its side of TCP open after the server's FIN
 * (Duplex's documented `allowHalfOpen`): ws waits 30 s for such a peer's close or FIN.
 * Joined to the default namespace; `id` is its socket.id.
 */
async function halfOpenSocketIoPeer(port: number): Promise<{ peer: RawPeer; id: string }> {
  const peer = h.track(
    await RawPeer.upgraded(port, { path: `${SOCKET_IO_PATH}?EIO=4&transport=websocket`, protocols: [] }),
  );
  peer.socket.allowHalfOpen = true;
  const text = async () => (await peer.readFrame()).payload.toString();
  expect(await text()).toMatch(/^0\{/);
  peer.sendFrame({ opcode: Opcode.text, payload: '40' });
  expect(await text()).toMatch(/^40\{/);
  const welcome = JSON.parse((await text()).slice(2)) as [string, { id: string }];
  expect(welcome[0]).toBe('welcome');
  return { peer, id: welcome[1].id };
}

/**
 * Resolves with the error code once a write fails: a reset answers writes to a socket the
 * server has destroyed. Writing also keeps the socket busy, so no idle timer ends it.
 */
function writeUntilReset(peer: RawPeer, chunk: Buffer): { reset: Promise<string>; stop: () => void } {
  const reset = new Promise<string>((resolve) => {
    peer.socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
  const timer = setInterval(() => peer.socket.write(chunk), 50);
  return { reset, stop: () => clearInterval(timer) };
}

describe('socket.io adapter: websocket peers that keep TCP open', () => {
  it(
    'destroys by the end of close() the socket of a peer dropped for an over-limit message',
    { timeout: 20_000 },
    async () => {
      const s = await start({ maxPayload: 64 * KiB, shutdownTimeout: 200 });
      const { peer } = await halfOpenSocketIoPeer(s.port);
      peer.sendFrame({ opcode: Opcode.text, payload: `42["echo",{"payload":"${'a'.repeat(70 * KiB)}"}]` });
      expect(await peer.readClose()).toMatchObject({ code: 1009, frame: true });
      await peer.waitEnd();
      // Bytes keep arriving, so only close() can end this socket before ws's 30 s.
      const writes = writeUntilReset(peer, Buffer.from('x'));
      try {
        await within(s.close(), 10_000, 'server.close()');
        expect(await within(writes.reset, 10_000, 'the server to destroy the dropped socket')).toMatch(
          /ECONNRESET|EPIPE/,
        );
      } finally {
        writes.stop();
      }
    },
  );

  it(
    'destroys by the end of close() the websocket of a session that never joined a namespace',
    { timeout: 20_000 },
    async () => {
      // socket.io's own connect timeout must not be what ends it.
      const s = await start({ shutdownTimeout: 200, handshakeTimeout: 60_000 });
      const peer = await RawPeer.upgraded(s.port, {
        path: `${SOCKET_IO_PATH}?EIO=4&transport=websocket`,
        protocols: [],
      });
      h.track(peer);
      peer.socket.allowHalfOpen = true;
      expect((await peer.readFrame()).payload.toString()).toMatch(/^0\{/);
      // Pings, never the answer to the close that io.close() sends: ws alone would wait 30 s.
      const writes = writeUntilReset(peer, Buffer.from([0x89, 0x80, 0, 0, 0, 0]));
      try {
        await within(s.close(), 10_000, 'server.close()');
        expect(await within(writes.reset, 10_000, 'the server to destroy the socket')).toMatch(/ECONNRESET|EPIPE/);
      } finally {
        writes.stop();
      }
    },
  );

  it(
    'sends leave soon after the closing handshake of a peer that never sends its FIN',
    { timeout: 20_000 },
    async () => {
      await start();
      const observer = await join('websocket');
      const { peer, id } = await halfOpenSocketIoPeer(h.server.port);
      expect(await observer.client.receive('join')).toStrictEqual({ type: 'join', id });
      peer.sendFrame({ opcode: Opcode.close, payload: closePayload(1000) });
      expect(await peer.readClose()).toMatchObject({ code: 1000, frame: true });
      await peer.waitEnd();
      // ws reports the close (and socket.io the disconnect) once the socket is gone: CLOSE_LINGER.
      expect(await observer.client.receive('leave', CLOSE_LINGER + 9_000)).toStrictEqual({ type: 'leave', id });
    },
  );

  it(
    'terminates the websocket of a session it ended, when the peer never answers the close',
    { timeout: 20_000 },
    async () => {
      const s = await start({ maxPayload: 64 * KiB });
      const observer = await join('websocket');
      const { peer, id } = await halfOpenSocketIoPeer(s.port);
      expect(await observer.client.receive('join')).toStrictEqual({ type: 'join', id });
      // A binary event whose two parts are under the limit each and over it together.
      peer.sendFrame({
        opcode: Opcode.text,
        payload: '452-["echo",{"payload":[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]}]',
      });
      peer.sendFrame({ opcode: Opcode.binary, payload: Buffer.alloc(40 * KiB) });
      peer.sendFrame({ opcode: Opcode.binary, payload: Buffer.alloc(40 * KiB) });
      expect((await peer.readClose()).frame).toBe(true);
      expect(await observer.client.receive('leave')).toStrictEqual({ type: 'leave', id });
      // Pings, never the close answer: ws alone would wait 30 s for it.
      const writes = writeUntilReset(peer, Buffer.from([0x89, 0x80, 0, 0, 0, 0]));
      try {
        expect(await within(writes.reset, 10_000, 'the server to terminate the websocket')).toMatch(/ECONNRESET|EPIPE/);
      } finally {
        writes.stop();
      }
    },
  );
});
