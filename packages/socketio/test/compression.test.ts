import { get } from 'node:http';
import { RawPeer, upgradeRequestText, useHarness } from '@socketlab/conformance';
import { eventually, type ServerOptions } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import { adapter, SOCKET_IO_PATH, type SocketIoServer } from '../src/index.js';

/**
 * socket.io's compression as the conformance suite cannot see it through a client: engine.io's
 * websocket answer to a permessage-deflate offer, and gzip on long-polling (httpCompression).
 */

const h = useHarness(adapter, adapter, {});
const start = async (options: ServerOptions = {}) => (await h.start(options)) as SocketIoServer;
const WS_PATH = `${SOCKET_IO_PATH}?EIO=4&transport=websocket`;

async function upgradeAnswer(port: number, extensions: string): Promise<{ status: number; extensions?: string }> {
  const peer = h.track(await RawPeer.open(port));
  peer.write(
    upgradeRequestText(`127.0.0.1:${port}`, {
      path: WS_PATH,
      extraHeaders: { 'Sec-WebSocket-Extensions': extensions },
    }),
  );
  const head = await peer.readHead();
  return { status: head.status, extensions: head.headers['sec-websocket-extensions'] };
}

function pollingHandshake(port: number): Promise<{ status: number; encoding?: string }> {
  return new Promise((resolve, reject) => {
    const req = get(
      {
        host: '127.0.0.1',
        port,
        path: `${SOCKET_IO_PATH}?EIO=4&transport=polling`,
        headers: { 'Accept-Encoding': 'gzip' },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, encoding: res.headers['content-encoding'] }));
      },
    );
    req.on('error', reject);
  });
}

describe('socket.io compression', () => {
  it('accepts a permessage-deflate offer on the websocket transport when compression is on', async () => {
    const server = await start({ perMessageDeflate: true });
    const answer = await upgradeAnswer(server.port, 'permessage-deflate; client_max_window_bits');
    expect(answer.status).toBe(101);
    expect(answer.extensions).toMatch(/^permessage-deflate/);
  });

  it('answers an offer uncompressed when compression is off', async () => {
    const server = await start();
    expect(await upgradeAnswer(server.port, 'permessage-deflate; client_max_window_bits')).toStrictEqual({
      status: 101,
      extensions: undefined,
    });
  });

  it('answers an offer it cannot accept with an uncompressed upgrade, not 400', async () => {
    const server = await start({ perMessageDeflate: true });
    expect(await upgradeAnswer(server.port, 'permessage-deflate; server_max_window_bits=7')).toStrictEqual({
      status: 101,
      extensions: undefined,
    });
  });

  it.each([
    ['offers compression when asked, and negotiates it', { perMessageDeflate: true }, 'permessage-deflate'],
    ['offers nothing unless asked (engine.io-client would by default)', {}, ''],
  ])('the socket.io client %s', async (_name, connect, negotiated) => {
    const server = await start({ perMessageDeflate: true });
    // engine.io's sessions by id; under each websocket transport, ws's public `extensions`.
    const sessions = () =>
      Object.values(
        (server.engine as unknown as { clients: Record<string, { transport: { socket: { extensions: string } } }> })
          .clients,
      );
    await h.join(connect);
    await eventually(() => sessions().length === 1, 5_000, 'one engine.io session');
    expect(sessions().map((conn) => conn.transport.socket.extensions)).toStrictEqual([negotiated]);
  });

  it.each([
    ['gzips polling responses when compression is on', { perMessageDeflate: { threshold: 0 } }, 'gzip'],
    ['sends polling responses as they are when compression is off', {}, undefined],
  ])('%s', async (_name, options, encoding) => {
    const server = await start(options);
    expect(await pollingHandshake(server.port)).toStrictEqual({ status: 200, encoding });
  });
});
