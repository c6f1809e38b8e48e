import { type AddressInfo, createServer as createNetServer, connect as tcpConnect } from 'node:net';
import { acceptKeyFor, closePayload, encodeFrame, Opcode, RawPeer, upgradeRequestText } from '@socketlab/conformance';
import { eventually, HandshakeError, type RealtimeServer, within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { clientFrameViolation, connect, createServer } from '../src/index.js';

/** What this adapter adds to WebSocket-Node beyond the shared suite: its defaults and its gap fixes. */
describe('websocket adapter', () => {
  let server: RealtimeServer | undefined;
  const peers: RawPeer[] = [];
  afterEach(async () => {
    for (const peer of peers.splice(0)) peer.destroy();
    await server?.close();
    server = undefined;
  });
  const openPeer = async (port: number): Promise<RawPeer> => {
    const peer = await RawPeer.open(port);
    peers.push(peer);
    return peer;
  };

  it('requires echo-protocol by default, as in the library classic examples', async () => {
    server = await createServer();
    const refused = connect(server.url, { protocols: [] });
    await expect(refused).rejects.toBeInstanceOf(HandshakeError);
    await expect(refused).rejects.toMatchObject({ status: 400 });
    const client = await connect(server.url);
    expect(client.protocol).toBe('echo-protocol');
    client.terminate();
  });

  it('accepts a client that offers none with requireProtocol: false', async () => {
    server = await createServer({ requireProtocol: false });
    const client = await connect(server.url, { protocols: [] });
    expect(client.protocol).toBe('');
    expect(await client.receive('welcome')).toMatchObject({ type: 'welcome' });
    client.terminate();
  });

  it('reads frames that arrive in the same packet as the upgrade request (the library drops them)', async () => {
    server = await createServer();
    const peer = await openPeer(server.port);
    const request = upgradeRequestText(`127.0.0.1:${server.port}`, { protocols: ['echo-protocol'] });
    const frame = encodeFrame({ opcode: Opcode.text, payload: JSON.stringify({ type: 'echo', payload: 'early' }) });
    peer.write(Buffer.concat([Buffer.from(request), frame]));
    expect((await peer.readHead()).status).toBe(101);
    expect(JSON.parse((await peer.readFrame()).payload.toString())).toMatchObject({ type: 'welcome' });
    expect(JSON.parse((await peer.readFrame()).payload.toString())).toStrictEqual({ type: 'echo', payload: 'early' });
  });

  it('closes with 1009 a peer still sending megabytes over the limit, and reads the rest instead of resetting', async () => {
    server = await createServer({ maxPayload: 64 * 1024 });
    const peer = await openPeer(server.port);
    peer.write(upgradeRequestText(`127.0.0.1:${server.port}`, { protocols: ['echo-protocol'] }));
    expect((await peer.readHead()).status).toBe(101);
    await peer.readFrame();
    // Far more than the socket buffers hold: the server stops parsing at the frame header.
    const flood = encodeFrame({ opcode: Opcode.binary, payload: Buffer.alloc(16 * 1024 * 1024) });
    const written = new Promise<string>((resolve) => {
      peer.socket.write(flood, (error) => resolve((error as NodeJS.ErrnoException | null)?.code ?? 'written'));
    });
    expect(await peer.readClose(10_000)).toMatchObject({ code: 1009, frame: true });
    // The server reads and discards the rest instead of resetting the connection under it,
    // and ends with a FIN once the closing handshake is done.
    expect(await within(written, 10_000, 'the flood to be written')).toBe('written');
    peer.sendFrame({ opcode: Opcode.close, payload: closePayload(1009) });
    await peer.waitEnd(10_000);
  });

  it('the client keeps the close code from the wire when a reset follows the close frame', async () => {
    // A server that does what the unpatched library does on an over-limit message:
    // write a close frame, then destroy the socket while the client is still sending.
    const rude = createNetServer((socket) => {
      socket.once('data', (head: Buffer) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(head.toString('latin1'))?.[1] ?? '';
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKeyFor(key)}\r\nSec-WebSocket-Protocol: echo-protocol\r\n\r\n`,
        );
        socket.once('data', () => {
          socket.write(encodeFrame({ opcode: Opcode.close, payload: closePayload(1009, 'too big'), mask: false }));
          socket.destroy();
        });
      });
    });
    await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = rude.address() as AddressInfo;
      const client = await connect(`ws://127.0.0.1:${port}/`);
      client.sendBinary(new Uint8Array(8 * 1024 * 1024));
      const info = await within(client.closed, 10_000, 'the client to see the close');
      expect(info).toStrictEqual({ code: 1009, reason: 'too big' });
    } finally {
      rude.close();
    }
  });

  it.each([
    ['2^32', 2n ** 32n],
    ['2^62', 2n ** 62n],
    ['2^63 (the reserved top bit set)', 2n ** 63n],
  ])('closes with 1009, not the library 1002, a frame header claiming %s bytes', async (_name, length) => {
    server = await createServer();
    const peer = await openPeer(server.port);
    peer.write(upgradeRequestText(`127.0.0.1:${server.port}`, { protocols: ['echo-protocol'] }));
    expect((await peer.readHead()).status).toBe(101);
    await peer.readFrame();
    // Only the header: FIN + binary, MASK + 127, the 64-bit length, a mask key.
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(length, 2);
    peer.write(header);
    expect(await peer.readClose()).toMatchObject({ code: 1009, frame: true });
  });

  it('a refused handshake carries the HTTP status', async () => {
    server = await createServer();
    await expect(connect(server.url, { origin: 'http://evil.example' })).rejects.toMatchObject({
      name: 'HandshakeError',
      status: 403,
    });
  });

  it('answers an upgrade without Host like every other refusal, not with the library bare 400', async () => {
    server = await createServer();
    const peer = await openPeer(server.port);
    const request = upgradeRequestText('x', { protocols: ['echo-protocol'] }).replace('Host: x\r\n', '');
    expect(request).not.toMatch(/host:/i);
    peer.write(request);
    const head = await peer.readHead();
    expect(head.status).toBe(400);
    expect(head.headers['content-type']).toMatch(/^text\/plain/);
    expect(head.headers['x-websocket-reject-reason']).toBeUndefined();
    await peer.waitEnd();
  });

  it('survives peers that reset right after their upgrade request (the library leaves the socket without an error listener)', async () => {
    server = await createServer();
    const { port } = server;
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((resolve) => {
        const socket = tcpConnect({ port, host: '127.0.0.1' }, () => {
          socket.write(upgradeRequestText(`127.0.0.1:${port}`, { protocols: ['echo-protocol'] }), () => {
            socket.resetAndDestroy();
            resolve();
          });
        });
        socket.on('error', () => {});
      });
    }
    // An unhandled socket error would have failed this test run; the server also still serves.
    await eventually(() => server?.connectionCount === 0, 10_000, 'every reset connection to leave');
    const client = await connect(server.url);
    expect(await client.receive('welcome')).toMatchObject({ type: 'welcome' });
    client.terminate();
  });

  describe('clientFrameViolation', () => {
    const frame = (fields: Record<string, unknown>) =>
      ({
        mask: 1,
        opcode: Opcode.text,
        closeStatus: -1,
        invalidCloseFrameLength: false,
        binaryPayload: Buffer.alloc(0),
        ...fields,
      }) as never;
    it.each([
      ['an unmasked frame', { mask: 0 }, 1002],
      ['a one-byte close payload', { opcode: Opcode.close, invalidCloseFrameLength: true }, 1002],
      ['close code 1015', { opcode: Opcode.close, closeStatus: 1015 }, 1002],
      ['close code 1004', { opcode: Opcode.close, closeStatus: 1004 }, 1002],
      ['close code 5000', { opcode: Opcode.close, closeStatus: 5000 }, 1002],
      [
        'a close reason that is not UTF-8',
        { opcode: Opcode.close, closeStatus: 1000, binaryPayload: Buffer.from([0xc3, 0x28]) },
        1007,
      ],
    ])('refuses %s', (_name, fields, code) => {
      expect(clientFrameViolation(frame(fields))).toMatchObject({ code });
    });
    it.each([
      ['a masked text frame', {}],
      ['an empty close frame', { opcode: Opcode.close }],
      [
        'close 1000 with a UTF-8 reason',
        { opcode: Opcode.close, closeStatus: 1000, binaryPayload: Buffer.from('bye ✓') },
      ],
      ['close 4999', { opcode: Opcode.close, closeStatus: 4999 }],
    ])('lets %s through', (_name, fields) => {
      expect(clientFrameViolation(frame(fields))).toBeUndefined();
    });
  });
});
