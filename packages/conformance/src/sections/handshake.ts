// CONTRACT.md section 3, handshake and security, as seen through a client.

import { HandshakeError } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import type { GroupContext } from '../group.js';

/** A foreign Origin gets 403 before any upgrade; no Origin is allowed. */
export function originAllowlist({ h }: GroupContext): void {
  describe('origin allowlist (section 3)', () => {
    it.each([
      ['no Origin header', undefined],
      ['http://localhost', 'http://localhost'],
      ['http://localhost:5173', 'http://localhost:5173'],
      ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ])('accepts %s by default', async (_name, value) => {
      await h.start();
      const { client } = await h.join(value === undefined ? {} : { origin: value });
      client.send({ type: 'echo', payload: 'ok' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'ok' });
    });

    it.each([
      'http://evil.example',
      'https://localhost',
      'http://localhost.evil.example',
      'null',
    ])('refuses %s with 403 and serves the others', async (value) => {
      await h.start();
      const { client } = await h.join();
      const refused = h.connect({ origin: value });
      await expect(refused).rejects.toBeInstanceOf(HandshakeError);
      await expect(refused).rejects.toMatchObject({ status: 403 });
      expect(h.server.connectionCount).toBe(1);
      client.send({ type: 'echo', payload: 'fine' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'fine' });
    });

    it('takes a configured allowlist, and * allows all', async () => {
      await h.start({ allowedOrigins: ['https://app.example'] });
      await h.join({ origin: 'https://app.example' });
      await expect(h.connect({ origin: 'http://localhost' })).rejects.toMatchObject({ status: 403 });
      await h.server.close();
      await h.start({ allowedOrigins: ['*'] });
      await h.join({ origin: 'http://evil.example' });
    });
  });
}

/** echo-protocol is selected when offered; only other subprotocols are refused. */
export function subprotocol({ h }: GroupContext): void {
  describe('subprotocol (section 3)', () => {
    it('selects echo-protocol when offered', async () => {
      await h.start();
      const { client } = await h.join({ protocols: ['echo-protocol'] });
      expect(client.protocol).toBe('echo-protocol');
    });
    it('selects echo-protocol among others', async () => {
      await h.start();
      const { client } = await h.join({ protocols: ['chat', 'echo-protocol'] });
      expect(client.protocol).toBe('echo-protocol');
    });
    it('accepts a client that offers none (a plain browser)', async () => {
      await h.start({ requireProtocol: false });
      const { client } = await h.join({ protocols: [] });
      expect(client.protocol).toBe('');
      client.send({ type: 'echo', payload: 1 });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 1 });
    });
    it('refuses a client that offers only other subprotocols before upgrade', async () => {
      await h.start();
      await expect(h.connect({ protocols: ['chat', 'superchat'] })).rejects.toMatchObject({ status: 400 });
      expect(h.server.connectionCount).toBe(0);
    });
    it('with requireProtocol, refuses a client that offers none', async () => {
      await h.start({ requireProtocol: true });
      await expect(h.connect({ protocols: [] })).rejects.toMatchObject({ status: 400 });
      const { client } = await h.join({ protocols: ['echo-protocol'] });
      expect(client.protocol).toBe('echo-protocol');
    });
  });
}
