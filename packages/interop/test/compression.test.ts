import { createServer, type Server, connect as tcpConnect } from 'node:net';
import type { RealtimeClient, RealtimeServer } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { WEBSOCKET_ADAPTERS } from './adapters.js';

/**
 * Every WebSocket client against every WebSocket server, with compression asked for on both
 * sides, seen from a TCP tap between them: the pairs that can compress negotiate
 * permessage-deflate and send compressed frames both ways; the others upgrade uncompressed
 * and the messages are the same.
 */

/** Forwards one port to another and keeps what went each way. */
class Tap {
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  private constructor(readonly server: Server) {}

  static async to(port: number): Promise<Tap> {
    let tap: Tap | undefined;
    const server = createServer((client) => {
      const upstream = tcpConnect({ port, host: '127.0.0.1' });
      client.on('data', (chunk: Buffer) => tap?.toServer.push(chunk));
      upstream.on('data', (chunk: Buffer) => tap?.toClient.push(chunk));
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    tap = new Tap(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return tap;
  }

  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('tap not listening');
    return `ws://127.0.0.1:${address.port}/`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The HTTP head, and the RSV1 bit of every data frame (opcodes 1 and 2) after it. */
function readStream(chunks: Buffer[]): { head: string; compressedData: boolean[] } {
  const bytes = Buffer.concat(chunks);
  const end = bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, Math.max(0, end)).toString('latin1');
  const compressedData: boolean[] = [];
  let offset = end + 4;
  while (offset + 2 <= bytes.length) {
    const b0 = bytes[offset] as number;
    const b1 = bytes[offset + 1] as number;
    let length = b1 & 0x7f;
    let at = offset + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at));
      at += 8;
    }
    if (b1 & 0x80) at += 4;
    const opcode = b0 & 0x0f;
    if (opcode === 1 || opcode === 2) compressedData.push((b0 & 0x40) !== 0);
    offset = at + length;
  }
  return { head, compressedData };
}

const opened: { server?: RealtimeServer; tap?: Tap; client?: RealtimeClient }[] = [];
afterEach(async () => {
  for (const { client, tap, server } of opened.splice(0)) {
    client?.terminate();
    await server?.close();
    await tap?.close();
  }
});

describe('interop: permessage-deflate between every pair', () => {
  for (const serverAdapter of WEBSOCKET_ADAPTERS) {
    for (const clientAdapter of WEBSOCKET_ADAPTERS) {
      const both = serverAdapter.capabilities.compression && clientAdapter.capabilities.compression;
      it(`${clientAdapter.name} client, ${serverAdapter.name} server: ${both ? 'compressed both ways' : 'uncompressed'}`, async () => {
        const fixture: (typeof opened)[number] = {};
        opened.push(fixture);
        fixture.server = await serverAdapter.createServer({ port: 0, perMessageDeflate: { threshold: 0 } });
        fixture.tap = await Tap.to(fixture.server.port);
        fixture.client = await clientAdapter.connect(fixture.tap.url, { perMessageDeflate: { threshold: 0 } });
        const client = fixture.client;
        expect((await client.receive()).type).toBe('welcome');
        const payload = { history: Array.from({ length: 50 }, (_, i) => ({ user: `u${i % 3}`, text: `line ${i}` })) };
        for (let i = 0; i < 3; i++) {
          client.send({ type: 'echo', payload: { i, ...payload } });
          expect(await client.receive('echo')).toStrictEqual({ type: 'echo', payload: { i, ...payload } });
        }
        const up = readStream(fixture.tap.toServer);
        const down = readStream(fixture.tap.toClient);
        // A client whose library cannot compress (WebSocket-Node) does not offer it.
        if (clientAdapter.capabilities.compression)
          expect(up.head).toMatch(/sec-websocket-extensions: permessage-deflate/i);
        if (both) {
          expect(down.head).toMatch(/^sec-websocket-extensions: permessage-deflate/im);
          expect(up.compressedData).toStrictEqual([true, true, true]);
          // The welcome and the three echoes.
          expect(down.compressedData).toStrictEqual([true, true, true, true]);
        } else {
          expect(down.head).not.toMatch(/sec-websocket-extensions/i);
          expect([...up.compressedData, ...down.compressedData].every((rsv1) => !rsv1)).toBe(true);
        }
      });
    }
  }
});
