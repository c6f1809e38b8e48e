// CONTRACT.md section 3 on the wire: the upgrade request and answer as raw bytes.

import { describe, expect, it } from 'vitest';
import type { GroupContext } from '../group.js';
import { headOfSize, KiB } from '../helpers.js';
import { acceptKeyFor, encodeFrame, Opcode, randomKey, upgradeRequestText } from '../raw.js';

/** The upgrade as bytes on the wire, read by an independent RFC 6455 peer (`RawPeer`). */
export function handshakeOnTheWire({ h }: GroupContext): void {
  describe('handshake on the wire (section 3)', () => {
    it('answers 101 with the RFC 6455 accept key and echo-protocol', async () => {
      await h.start();
      const peer = await h.raw();
      const key = randomKey();
      peer.write(upgradeRequestText(`127.0.0.1:${h.server.port}`, { key, protocols: ['echo-protocol'] }));
      const head = await peer.readHead();
      expect(head.status).toBe(101);
      expect(head.headers.upgrade?.toLowerCase()).toBe('websocket');
      expect(head.headers.connection?.toLowerCase()).toContain('upgrade');
      expect(head.headers['sec-websocket-accept']).toBe(acceptKeyFor(key));
      expect(head.headers['sec-websocket-protocol']).toBe('echo-protocol');
      const welcome = await peer.readFrame();
      expect(welcome.opcode).toBe(Opcode.text);
      expect(welcome.masked).toBe(false);
      expect(JSON.parse(welcome.payload.toString())).toMatchObject({ type: 'welcome' });
    });

    it('sends no Sec-WebSocket-Protocol when none was offered', async () => {
      // Offering none is only accepted when the server does not require the subprotocol.
      await h.start({ requireProtocol: false });
      const peer = await h.raw();
      peer.write(upgradeRequestText(`127.0.0.1:${h.server.port}`));
      const head = await peer.readHead();
      expect(head.status).toBe(101);
      expect(head.headers['sec-websocket-protocol']).toBeUndefined();
    });

    const refusals: [string, (host: string) => string, number][] = [
      ['a plain HTTP GET', (host) => `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 426],
      ['a POST upgrade', (host) => upgradeRequestText(host, { method: 'POST' }), 405],
      ['a missing key', (host) => upgradeRequestText(host, { key: null }), 400],
      ['a key that is not 16 bytes', (host) => upgradeRequestText(host, { key: 'c2hvcnQ=' }), 400],
      ['version 8', (host) => upgradeRequestText(host, { version: '8' }), 426],
      ['no version', (host) => upgradeRequestText(host, { version: null }), 426],
      ['no Host header', (host) => upgradeRequestText(host).replace(/^Host: .*\r\n/m, ''), 400],
      ['a foreign origin', (host) => upgradeRequestText(host, { origin: 'http://evil.example' }), 403],
      ['an empty Origin header', (host) => upgradeRequestText(host, { origin: '' }), 403],
      [
        'an empty Sec-WebSocket-Protocol header',
        (host) => upgradeRequestText(host, { extraHeaders: { 'Sec-WebSocket-Protocol': '' } }),
        400,
      ],
      ['a head of 16 KiB + 1 byte', (host) => headOfSize(host, 16 * KiB + 1), 431],
      ['only other subprotocols', (host) => upgradeRequestText(host, { protocols: ['chat'] }), 400],
      [
        'a head over 16 KiB',
        (host) => upgradeRequestText(host, { extraHeaders: { 'X-Pad': 'p'.repeat(17 * KiB) } }),
        431,
      ],
      // Node's parser drops both paddings from the parsed request: the head counts as sent.
      [
        'a head over 16 KiB of whitespace before a header value',
        (host) => upgradeRequestText(host, { extraHeaders: { 'X-Pad': `${' '.repeat(17 * KiB)}p` } }),
        431,
      ],
      [
        'a head over 16 KiB of 2,500 small headers',
        (host) =>
          upgradeRequestText(host, {
            extraHeaders: Object.fromEntries(Array.from({ length: 2_500 }, (_, i) => [`h${i}`, 'v'])),
          }),
        431,
      ],
      ['garbage', () => '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n', 400],
    ];
    it.each(refusals)('refuses %s with the proper 4xx, closes, and goes on serving', async (_name, request, status) => {
      await h.start();
      const peer = await h.raw();
      peer.write(request(`127.0.0.1:${h.server.port}`));
      const head = await peer.readHead();
      expect(head.status).toBe(status);
      if (status === 426 && request('x').includes('Sec-WebSocket-Key')) {
        expect(head.headers['sec-websocket-version']).toBe('13');
      }
      await peer.waitEnd();
      const { client } = await h.join();
      client.send({ type: 'echo', payload: 'after' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'after' });
    });

    it('accepts a head of exactly 16 KiB', async () => {
      await h.start();
      const peer = await h.raw();
      const text = headOfSize(`127.0.0.1:${h.server.port}`, 16 * KiB);
      expect(Buffer.byteLength(text)).toBe(16 * KiB);
      peer.write(text);
      expect((await peer.readHead()).status).toBe(101);
    });

    it('takes a request head that arrives one byte at a time', async () => {
      await h.start();
      const peer = await h.raw();
      const key = randomKey();
      const text = upgradeRequestText(`127.0.0.1:${h.server.port}`, { key, protocols: ['echo-protocol'] });
      for (const byte of Buffer.from(text)) {
        peer.write(Buffer.from([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const head = await peer.readHead();
      expect(head.status).toBe(101);
      expect(head.headers['sec-websocket-accept']).toBe(acceptKeyFor(key));
    });

    it('closes a head not complete within the handshake timeout (slowloris), and goes on serving', async () => {
      await h.start({ handshakeTimeout: 300 });
      const peer = await h.raw();
      peer.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
      await peer.waitEnd(5_000);
      const { client } = await h.join();
      client.send({ type: 'echo', payload: 1 });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 1 });
    });

    it('does not extend the handshake timeout for a head that keeps trickling in', async () => {
      await h.start({ handshakeTimeout: 300 });
      const peer = await h.raw();
      peer.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      const trickle = setInterval(() => peer.isEnded || peer.write('x'), 50);
      try {
        await peer.waitEnd(5_000);
      } finally {
        clearInterval(trickle);
      }
    });

    it('reads Upgrade and Connection as case-insensitive token lists', async () => {
      await h.start();
      const peer = await h.raw();
      const key = randomKey();
      const text = upgradeRequestText(`127.0.0.1:${h.server.port}`, { key, protocols: ['echo-protocol'] })
        .replace('Upgrade: websocket', 'Upgrade: WebSocket')
        .replace('Connection: Upgrade', 'Connection: keep-alive, UPGRADE');
      peer.write(text);
      const head = await peer.readHead();
      expect(head.status).toBe(101);
      expect(head.headers['sec-websocket-accept']).toBe(acceptKeyFor(key));
    });

    it('takes frames that arrive in the same write as the request head', async () => {
      await h.start();
      const peer = await h.raw();
      const head = upgradeRequestText(`127.0.0.1:${h.server.port}`, { protocols: ['echo-protocol'] });
      const echo = encodeFrame({ opcode: Opcode.text, payload: JSON.stringify({ type: 'echo', payload: 'early' }) });
      peer.write(Buffer.concat([Buffer.from(head), echo]));
      expect((await peer.readHead()).status).toBe(101);
      expect(JSON.parse((await peer.readFrame()).payload.toString())).toMatchObject({ type: 'welcome' });
      expect(JSON.parse((await peer.readFrame()).payload.toString())).toStrictEqual({ type: 'echo', payload: 'early' });
    });
  });
}
