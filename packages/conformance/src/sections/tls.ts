// CONTRACT.md section 3, TLS: given a certificate and key, the same server speaks wss:// (socket.io: https://).

import { HandshakeError } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import type { GroupContext } from '../group.js';
import { servedSerial, testTls } from '../tls.js';

/** Run with the TLS harness: every server has the test certificate, every client trusts its CA. */
export function tlsServing({ h }: GroupContext): void {
  describe('TLS (section 3)', () => {
    it('serves wss:// (socket.io https://) and says so in its url', async () => {
      const server = await h.start();
      expect(server.url).toMatch(/^(wss|https):\/\/127\.0\.0\.1:\d+\/$/);
      const { client } = await h.join();
      client.send({ type: 'echo', payload: { over: 'tls' } });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: { over: 'tls' } });
    });

    it('refuses a client that does not trust the certificate, and goes on serving', async () => {
      await h.start();
      await expect(h.connect({ ca: undefined })).rejects.toBeInstanceOf(HandshakeError);
      const { client } = await h.join();
      client.send({ type: 'echo', payload: 1 });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 1 });
    });

    it('lets a client opt out of verification only explicitly (rejectUnauthorized: false)', async () => {
      await h.start();
      const { client } = await h.join({ ca: undefined, rejectUnauthorized: false });
      client.send({ type: 'echo', payload: 'unverified' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'unverified' });
    });

    it('reloadTls: new handshakes get the new certificate, open connections stay', async () => {
      const { ca, leaf } = testTls();
      const server = await h.start();
      const before = await h.join();
      expect(await servedSerial(server.port, leaf.ca)).toBe(leaf.serialNumber);
      const next = ca.issue();
      server.reloadTls({ cert: next.cert, key: next.key });
      expect(await servedSerial(server.port, leaf.ca)).toBe(next.serialNumber);
      const after = await h.join();
      expect(await before.client.receive()).toStrictEqual({ type: 'join', id: after.id });
      before.client.send({ type: 'echo', payload: 'still here' });
      expect(await before.client.receive()).toStrictEqual({ type: 'echo', payload: 'still here' });
      // A pair that does not match is refused and the served one stays.
      expect(() => server.reloadTls({ cert: leaf.cert, key: next.key })).toThrow();
      expect(await servedSerial(server.port, leaf.ca)).toBe(next.serialNumber);
    });

    it('reloadTls on a server started without tls throws', async () => {
      const server = await h.start({ tls: undefined });
      expect(server.url).toMatch(/^(ws|http):\/\//);
      const { leaf } = testTls();
      expect(() => server.reloadTls({ cert: leaf.cert, key: leaf.key })).toThrow(/without tls/);
    });
  });
}
