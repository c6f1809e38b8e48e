import { request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { within } from '@socketlab/conformance';
import type { RealtimeClient, RealtimeServer, ServerOptions } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, SOCKET_IO_PATH } from '../src/index.js';

/**
 * What the conformance suite cannot see through a socket.io client: the raw HTTP answers of
 * the polling and upgrade paths, and limits a stock client would never run into.
 */

const KiB = 1024;
let server: RealtimeServer | undefined;
const clients: RealtimeClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  await server?.close();
  server = undefined;
});

async function start(options: ServerOptions = {}): Promise<RealtimeServer> {
  server = await createServer({ port: 0, host: '127.0.0.1', ...options });
  return server;
}

async function join(transport: 'websocket' | 'polling'): Promise<{ client: RealtimeClient; id: string }> {
  if (!server) throw new Error('start() first');
  const client = await connect(server.url, { transport });
  clients.push(client);
  const welcome = await client.receive('welcome');
  return { client, id: welcome.id };
}

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
    await expect(connect(server!.url, { transport, origin: 'https://evil.example' })).rejects.toMatchObject({
      name: 'HandshakeError',
      status: 403,
    });
    const allowed = await connect(server!.url, { transport, origin: 'https://app.example' });
    clients.push(allowed);
    await allowed.receive('welcome');
  });
});
