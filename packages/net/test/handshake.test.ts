import { once } from 'node:events';
import { type AddressInfo, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { acceptKeyFor as probeAcceptKey, encodeFrame as probeFrame, RawPeer, randomKey } from '@socketlab/conformance';
import { HandshakeError, within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { Opcode } from '../src/constants.js';
import { acceptKeyFor, HeadReader, parseRequestHead } from '../src/handshake.js';
import { connect, createServer } from '../src/index.js';

const request = (lines: string[]): string => `${lines.join('\r\n')}\r\n\r\n`;
const upgradeLines = (key = randomKey()): string[] => [
  'GET /chat?x=1 HTTP/1.1',
  'Host: 127.0.0.1',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${key}`,
  'Sec-WebSocket-Version: 13',
];

describe('HeadReader', () => {
  it('completes only on the last byte of a head sent one byte at a time', () => {
    const text = Buffer.from(request(upgradeLines()));
    const reader = new HeadReader();
    for (let i = 0; i < text.length - 1; i++) {
      expect(reader.push(text.subarray(i, i + 1)).kind).toBe('incomplete');
    }
    const result = reader.push(text.subarray(text.length - 1));
    expect(result.kind).toBe('complete');
    if (result.kind === 'complete') {
      expect(`${result.head}\r\n\r\n`).toBe(text.toString('latin1'));
      expect(result.rest.length).toBe(0);
    }
  });

  it('hands back the bytes after the head, cut anywhere in the terminator', () => {
    const head = Buffer.from(request(upgradeLines()));
    const frames = probeFrame({ opcode: Opcode.text, payload: 'first frame' });
    const all = Buffer.concat([head, frames]);
    for (let at = head.length - 4; at < head.length; at++) {
      const reader = new HeadReader();
      expect(reader.push(all.subarray(0, at)).kind).toBe('incomplete');
      const result = reader.push(all.subarray(at));
      expect(result.kind).toBe('complete');
      if (result.kind === 'complete') expect(result.rest.equals(frames)).toBe(true);
    }
  });

  it('takes a head of exactly the limit and refuses one byte more', () => {
    const limit = 1024;
    const base = request(upgradeLines());
    const exact = base.replace('Host: 127.0.0.1', `Host: 127.0.0.1\r\nX-Pad: ${'p'.repeat(limit - base.length - 9)}`);
    expect(exact.length).toBe(limit);
    expect(new HeadReader(limit).push(Buffer.from(exact)).kind).toBe('complete');
    const over = exact.replace('X-Pad: ', 'X-Pad: p');
    expect(new HeadReader(limit).push(Buffer.from(over)).kind).toBe('tooLarge');
    // Never completed and past the limit: refused without waiting for more.
    const reader = new HeadReader(limit);
    expect(reader.push(Buffer.alloc(600, 0x61)).kind).toBe('incomplete');
    expect(reader.push(Buffer.alloc(600, 0x61)).kind).toBe('tooLarge');
  });
});

describe('parseRequestHead', () => {
  it('lower-cases names, trims values and keeps repeated headers', () => {
    const parsed = parseRequestHead('GET / HTTP/1.1\r\nHOST:  a \r\nX-A: 1\r\nx-a: 2');
    expect(parsed).toStrictEqual({
      ok: true,
      value: {
        method: 'GET',
        path: '/',
        httpVersion: '1.1',
        headers: Object.assign(Object.create(null), { host: 'a', 'x-a': ['1', '2'] }),
      },
    });
  });

  it.each([
    ['a request line without a version', 'GET /'],
    ['a lower-case HTTP version', 'GET / http/1.1'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : a'],
    ['an obs-fold continuation line', 'GET / HTTP/1.1\r\nX-A: 1\r\n  more'],
    ['a line without a colon', 'GET / HTTP/1.1\r\nnonsense'],
    ['a control character in a value', 'GET / HTTP/1.1\r\nX-A: a\u0000b'],
  ])('refuses %s', (_name, head) => {
    expect(parseRequestHead(head).ok).toBe(false);
  });

  it('computes the RFC 6455 sample accept key', () => {
    // RFC 6455 section 1.3.
    expect(acceptKeyFor('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});

describe('server handshake on the wire', () => {
  const servers: { close(): Promise<void> }[] = [];
  const peers: RawPeer[] = [];
  afterEach(async () => {
    for (const peer of peers.splice(0)) peer.destroy();
    for (const server of servers.splice(0)) await server.close();
  });
  const start = async (options = {}) => {
    const server = await createServer({ port: 0, ...options });
    servers.push(server);
    return server;
  };
  const raw = async (port: number) => {
    const peer = await RawPeer.open(port);
    peers.push(peer);
    return peer;
  };

  it.each([
    ['HTTP/1.0', request(upgradeLines().map((l, i) => (i === 0 ? 'GET / HTTP/1.0' : l))), 400],
    ['a space before a colon', request([...upgradeLines(), 'X-Bad : 1']), 400],
    [
      'Connection without Upgrade',
      request(upgradeLines().map((l) => (l.startsWith('Connection') ? 'Connection: keep-alive' : l))),
      400,
    ],
    ['a body-carrying POST', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc', 426],
  ])('refuses %s with %i', async (_name, text, status) => {
    const server = await start();
    const peer = await raw(server.port);
    peer.write(text);
    expect((await peer.readHead()).status).toBe(status);
    await peer.waitEnd();
  });

  it('closes a socket still in its handshake when the server shuts down, promptly', async () => {
    const server = await start();
    const peer = await raw(server.port);
    peer.write('GET / HTTP/1.1\r\nHost: x\r\n');
    // Connections are accepted in order: once a later client is welcomed, the peer is in its handshake.
    const client = await connect(server.url);
    await client.receive('welcome');
    await within(server.close(), 3_000, 'server.close() with a half-sent head');
    await peer.waitEnd(1_000);
  });

  it('survives a peer that resets in the middle of its head', async () => {
    const server = await start();
    const peer = await raw(server.port);
    peer.write('GET / HTTP/1.1\r\nUpgr');
    peer.socket.resetAndDestroy();
    const client = await connect(server.url);
    expect(await client.receive()).toMatchObject({ type: 'welcome' });
    client.terminate();
  });
});

/** A TCP server that answers every upgrade request with `answer(key)`. */
async function fakeServer(
  answer: (key: string, socket: Socket, request: string) => void,
): Promise<{ url: string; server: Server }> {
  const server = createTcpServer((socket) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      const key = /sec-websocket-key: (\S+)/i.exec(text)?.[1] ?? '';
      const request = text;
      text = '';
      answer(key, socket, request);
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

describe('client handshake checks', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });
  const fake = async (answer: (key: string, socket: Socket, request: string) => void) => {
    const made = await fakeServer(answer);
    servers.push(made.server);
    return made.url;
  };
  const ok = (accept: string, extra = ''): string =>
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`;

  it.each([
    [
      'a wrong accept key',
      (_key: string) => ok(probeAcceptKey(randomKey()), 'Sec-WebSocket-Protocol: echo-protocol\r\n'),
      /Accept/,
    ],
    [
      'a subprotocol not offered',
      (key: string) => ok(probeAcceptKey(key), 'Sec-WebSocket-Protocol: chat\r\n'),
      /not offered/,
    ],
    ['no subprotocol when one was offered', (key: string) => ok(probeAcceptKey(key)), /no subprotocol/],
    [
      'an extension not offered',
      (key: string) =>
        ok(
          probeAcceptKey(key),
          'Sec-WebSocket-Protocol: echo-protocol\r\nSec-WebSocket-Extensions: permessage-deflate\r\n',
        ),
      /extension/,
    ],
    [
      'no Upgrade header',
      (key: string) =>
        ok(probeAcceptKey(key), 'Sec-WebSocket-Protocol: echo-protocol\r\n').replace('Upgrade: websocket\r\n', ''),
      /Upgrade/,
    ],
  ])('refuses %s', async (_name, response, message) => {
    const url = await fake((key, socket) => socket.write(response(key)));
    await expect(connect(url)).rejects.toThrow(message);
  });

  it('reports a refusal with its HTTP status', async () => {
    const url = await fake((_key, socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
    const refused = connect(url);
    await expect(refused).rejects.toBeInstanceOf(HandshakeError);
    await expect(refused).rejects.toMatchObject({ status: 403 });
  });

  it('gives up on a server that never answers, after the timeout', async () => {
    const url = await fake(() => {});
    await expect(connect(url, { timeout: 200 })).rejects.toThrow(/timed out/);
  });

  it('sends a well-formed upgrade request: path and query, Host, a fresh 16-byte key, version 13, protocols, Origin', async () => {
    const requests: string[] = [];
    const url = await fake((key, socket, request) => {
      requests.push(request);
      socket.write(ok(probeAcceptKey(key), 'Sec-WebSocket-Protocol: echo-protocol\r\n'));
    });
    const port = new URL(url).port;
    const first = await connect(`${url}chat?room=1`, {
      protocols: ['chat', 'echo-protocol'],
      origin: 'http://localhost',
    });
    const second = await connect(url);
    first.terminate();
    second.terminate();
    const [text = '', other = ''] = requests;
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('GET /chat?room=1 HTTP/1.1');
    expect(lines).toContain(`Host: 127.0.0.1:${port}`);
    expect(lines).toContain('Upgrade: websocket');
    expect(lines).toContain('Connection: Upgrade');
    expect(lines).toContain('Sec-WebSocket-Version: 13');
    expect(lines).toContain('Sec-WebSocket-Protocol: chat, echo-protocol');
    expect(lines).toContain('Origin: http://localhost');
    const key = (text: string) => /Sec-WebSocket-Key: (\S+)/.exec(text)?.[1] ?? '';
    expect(Buffer.from(key(text), 'base64')).toHaveLength(16);
    expect(key(other)).not.toBe(key(text));
    expect(other).not.toMatch(/Origin:/);
  });

  it('takes a first frame that arrives in the same packet as the 101', async () => {
    const url = await fake((key, socket) =>
      socket.write(
        Buffer.concat([
          Buffer.from(ok(probeAcceptKey(key), 'Sec-WebSocket-Protocol: echo-protocol\r\n')),
          probeFrame({ opcode: Opcode.text, payload: '{"type":"welcome","id":"w"}', mask: false }),
        ]),
      ),
    );
    const client = await connect(url);
    expect(client.protocol).toBe('echo-protocol');
    expect(await client.receive()).toStrictEqual({ type: 'welcome', id: 'w' });
    client.terminate();
  });
});
