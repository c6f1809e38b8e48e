// CONTRACT.md section 3 (compression) through the adapters' clients: messages mean the same compressed or not.

import type { ConnectOptions, ServerOptions } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import type { GroupContext } from '../group.js';
import { KiB } from '../helpers.js';

const COMPRESSING: ConnectOptions = { perMessageDeflate: true };
// Explicit, so a suite run with compression on everywhere (interop) still has a plain side here.
const PLAIN: ConnectOptions = { perMessageDeflate: false };
/** A JSON payload that compresses well (repeated keys and words, as chat traffic does). */
const history = (size: number) =>
  Array.from({ length: Math.ceil(size / 80) }, (_, i) => ({ user: `user-${i % 5}`, text: `line ${i} of the story` }));

/**
 * With compression on at either end, at both or at neither, every message arrives the same.
 * It runs for every adapter: one that cannot compress (capability `compression: false`) takes
 * the option and works uncompressed.
 */
export function compressedMessages({ h, capabilities }: GroupContext): void {
  describe('compressed messages (section 3)', () => {
    const pairings: [string, ServerOptions, ConnectOptions][] = [
      ['server and client compressing', { perMessageDeflate: { threshold: 0 } }, COMPRESSING],
      ['a compressing server, a plain client', { perMessageDeflate: true }, PLAIN],
      ['a plain server, a client offering compression', { perMessageDeflate: false }, COMPRESSING],
    ];

    it.each(pairings)('echoes small and large payloads deep-equal: %s', async (_name, serverOptions, connect) => {
      await h.start(serverOptions);
      const { client } = await h.join(connect);
      const payloads: unknown[] = ['x', { unicode: 'héllo ✓ 日本語 🚀' }, history(64 * KiB), 'y'.repeat(300 * KiB)];
      for (const payload of payloads) {
        client.send({ type: 'echo', payload });
        expect(await client.receive('echo', 15_000)).toStrictEqual({ type: 'echo', payload });
      }
    });

    if (capabilities.binaryMessages) {
      it.each(pairings)('echoes binary messages exactly: %s', async (_name, serverOptions, connect) => {
        await h.start(serverOptions);
        const { client } = await h.join(connect);
        for (const size of [0, 1, 2 * KiB, 64 * KiB]) {
          // Half compressible (a pattern), half not.
          const bytes = Uint8Array.from({ length: size }, (_, i) => (i < size / 2 ? i % 16 : (i * 2654435761) >>> 24));
          client.sendBinary(bytes);
          const reply = await client.receive('binary');
          expect(Buffer.from(reply.data).equals(Buffer.from(bytes))).toBe(true);
        }
      });
    }

    it('delivers one broadcast to compressing and plain clients in one room alike', async () => {
      await h.start({ perMessageDeflate: { threshold: 0 } });
      const [sender, compressing, plain] = [await h.join(COMPRESSING), await h.join(COMPRESSING), await h.join({})];
      await sender.client.receive('join');
      await sender.client.receive('join');
      await compressing.client.receive('join');
      for (let round = 0; round < 3; round++) {
        const payload = { round, history: history(8 * KiB) };
        sender.client.send({ type: 'broadcast', payload });
        const expected = { type: 'broadcast', from: sender.id, payload };
        for (const { client } of [sender, compressing, plain]) {
          expect(await client.receive('broadcast')).toStrictEqual(expected);
        }
      }
    });

    it('still closes an over-limit message with the limit on its inflated size', async () => {
      await h.start({ maxPayload: 64 * KiB, perMessageDeflate: { threshold: 0 } });
      const watcher = await h.join();
      const big = await h.join(COMPRESSING);
      await watcher.client.receive('join');
      // Compresses to a few hundred bytes; inflated it is four times the limit.
      big.client.send({ type: 'echo', payload: 'z'.repeat(256 * KiB) });
      const closed = await big.client.closed;
      if (capabilities.closeCodes) expect(closed.code).toBe(1009);
      expect(await watcher.client.receive('leave')).toStrictEqual({ type: 'leave', id: big.id });
    });
  });
}
