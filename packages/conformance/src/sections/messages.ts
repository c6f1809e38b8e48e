// CONTRACT.md section 1 (and section 2, the same semantics as socket.io events): messages.

import { eventually, type RealtimeClient, replayPresence } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import type { GroupContext } from '../group.js';
import type { Joined } from '../harness.js';
import { HEAVY, KiB } from '../helpers.js';

/** welcome to the newcomer, join to the others, leave to those remaining. */
export function presence({ h }: GroupContext): void {
  describe('presence (section 1)', () => {
    it('welcomes first, announces joins to the others and leaves to those remaining', async () => {
      await h.start();
      const a = await h.join();
      const b = await h.join();
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: b.id });
      const c = await h.join();
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: c.id });
      expect(await b.client.receive()).toStrictEqual({ type: 'join', id: c.id });
      expect(new Set([a.id, b.id, c.id]).size).toBe(3);
      expect(h.server.connectionCount).toBe(3);

      await c.client.close();
      expect(await a.client.receive()).toStrictEqual({ type: 'leave', id: c.id });
      expect(await b.client.receive()).toStrictEqual({ type: 'leave', id: c.id });
      b.client.terminate();
      expect(await a.client.receive()).toStrictEqual({ type: 'leave', id: b.id });
      await eventually(() => h.server.connectionCount === 1, 5_000, 'connection count back to 1');
    });

    it('welcomes each newcomer with everyone already there (members), never its own id', async () => {
      await h.start();
      const a = await h.join();
      expect(a.members).toStrictEqual([]);
      const b = await h.join();
      expect(b.members).toStrictEqual([a.id]);
      const c = await h.join();
      expect(new Set(c.members)).toStrictEqual(new Set([a.id, b.id]));
      expect(c.members).toHaveLength(2);
      await b.client.close();
      await a.client.receive('leave');
      const d = await h.join();
      expect(new Set(d.members)).toStrictEqual(new Set([a.id, c.id]));
      expect(d.members).toHaveLength(2);
      // The client library keeps the presence set from the welcome, joins and leaves.
      await eventually(() => a.client.members.size === 2, 5_000, "a's presence set to hold c and d");
      expect(a.client.members).toStrictEqual(new Set([c.id, d.id]));
      expect(d.client.members).toStrictEqual(new Set([a.id, c.id]));
    });

    it("keeps every client's presence consistent through connects and disconnects (section 1's rule)", async () => {
      await h.start();
      const live: Joined[] = [];
      const gone: Joined[] = [];
      // A fixed interleaving of joins, polite closes and abrupt ends, some back to back.
      const plan = ['join', 'join', 'join', 'close', 'join', 'terminate', 'join', 'join', 'close', 'terminate', 'join'];
      for (const [step, action] of plan.entries()) {
        if (action === 'join') {
          live.push(await h.join());
          continue;
        }
        const [leaving] = live.splice(step % live.length, 1);
        if (!leaving) continue;
        gone.push(leaving);
        if (action === 'close') void leaving.client.close();
        else leaving.client.terminate();
      }
      await eventually(() => h.server.connectionCount === live.length, 5_000, `${live.length} connections left`);
      for (const member of live) {
        const others = new Set(live.filter((m) => m !== member).map((m) => m.id));
        await eventually(
          () => member.client.members.size === others.size && [...others].every((id) => member.client.members.has(id)),
          5_000,
          `${member.id}'s presence set to equal the room`,
        );
        const replay = replayPresence(member.id, member.members, member.client.pending());
        expect(replay.breaches).toStrictEqual([]);
        expect(replay.present).toStrictEqual(others);
      }
      expect(gone.length).toBeGreaterThan(0);
    });
  });
}

/** Any JSON payload comes back deep-equal to the sender alone (socket.io: binary inside it too). */
export function echo({ h, capabilities: { binaryPayloads } }: GroupContext): void {
  describe('echo (section 1)', () => {
    const payloads: [string, unknown][] = [
      ['null', null],
      ['a number', 42.5],
      ['false', false],
      ['an empty string', ''],
      ['an array', [1, 'two', [3], { four: 4 }]],
      ['a nested object', { a: { b: { c: [true, null, { d: 'e' }] } }, n: -0.125 }],
      ['unicode', { text: 'héllo wörld ✓ 日本語 🚀👩‍👩‍👧 \u0000 \u2028', key_é: 'ü' }],
    ];
    it.each(payloads)('returns %s deep-equal', async (_name, payload) => {
      await h.start();
      const { client } = await h.join();
      client.send({ type: 'echo', payload });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload });
    });

    it('returns a ~512 KiB payload deep-equal', async () => {
      await h.start();
      const { client } = await h.join();
      const payload = { blob: 'x'.repeat(512 * KiB - 64), tail: '✓' };
      client.send({ type: 'echo', payload });
      expect(await client.receive('echo', 15_000)).toStrictEqual({ type: 'echo', payload });
    });

    it('answers the sender alone', async () => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      a.client.send({ type: 'echo', payload: 'private' });
      a.client.send({ type: 'broadcast', payload: 'marker' });
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: 'marker' });
      expect(await a.client.receive()).toStrictEqual({ type: 'echo', payload: 'private' });
    });

    if (binaryPayloads) {
      it('returns binary inside a payload as binary', async () => {
        await h.start();
        const { client } = await h.join();
        const bytes = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
        client.send({ type: 'echo', payload: { name: 'file.bin', data: bytes } });
        const reply = await client.receive('echo');
        const data = (reply.payload as { data: Uint8Array }).data;
        expect(data).toBeInstanceOf(Uint8Array);
        expect(Buffer.from(data).equals(Buffer.from(bytes))).toBe(true);
        expect((reply.payload as { name: string }).name).toBe('file.bin');
      });
    }
  });
}

/** A binary message comes back byte for byte to the sender alone. */
export function binaryMessages({ h }: GroupContext): void {
  describe('binary messages (section 1)', () => {
    it.each([0, 1, 64 * KiB])('echoes %i bytes exactly, to the sender alone', async (size) => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) % 256);
      a.client.sendBinary(bytes);
      a.client.send({ type: 'broadcast', payload: 'after' });
      const reply = await a.client.receive();
      expect(reply.type).toBe('binary');
      if (reply.type === 'binary') expect(Buffer.from(reply.data).equals(Buffer.from(bytes))).toBe(true);
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: 'after' });
    });
  });
}

/** Everyone gets the copy, the sender its copy first and then the result with the local count. */
export function broadcast({ h }: GroupContext): void {
  describe('broadcast (section 1)', () => {
    it('reaches every client, the sender first gets its copy then the result with the recipient count', async () => {
      await h.start();
      const [a, b, c] = await h.joinAll(3);
      const payload = { text: 'hello all', n: [1, 2, 3] };
      a.client.send({ type: 'broadcast', payload });
      const copy = { type: 'broadcast', from: a.id, payload };
      expect(await a.client.receive()).toStrictEqual(copy);
      expect(await a.client.receive()).toStrictEqual({ type: 'broadcastResult', payload, recipients: 3 });
      expect(await b.client.receive()).toStrictEqual(copy);
      expect(await c.client.receive()).toStrictEqual(copy);
    });

    it('counts only the connections present', async () => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      b.client.terminate();
      expect(await a.client.receive('leave')).toStrictEqual({ type: 'leave', id: b.id });
      a.client.send({ type: 'broadcast', payload: 1 });
      await a.client.receive('broadcast');
      expect(await a.client.receive('broadcastResult')).toStrictEqual({
        type: 'broadcastResult',
        payload: 1,
        recipients: 1,
      });
    });
  });
}

/** Replies keep the order of the requests. */
export function ordering({ h }: GroupContext): void {
  describe('ordering (section 1)', () => {
    it(
      'keeps 1,000 pipelined echoes in order',
      async () => {
        await h.start();
        const { client } = await h.join();
        for (let i = 0; i < 1000; i++) client.send({ type: 'echo', payload: { seq: i } });
        for (let i = 0; i < 1000; i++) {
          expect(await client.receive()).toStrictEqual({ type: 'echo', payload: { seq: i } });
        }
      },
      HEAVY,
    );

    it('answers mixed requests in the order sent', async () => {
      await h.start();
      const { client, id } = await h.join();
      client.send({ type: 'echo', payload: 1 });
      client.send({ type: 'broadcast', payload: 2 });
      client.send({ type: 'echo', payload: 3 });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 1 });
      expect(await client.receive()).toStrictEqual({ type: 'broadcast', from: id, payload: 2 });
      expect(await client.receive()).toStrictEqual({ type: 'broadcastResult', payload: 2, recipients: 1 });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 3 });
    });
  });
}

/** Anything else is answered with bad_request to the sender alone; the connection stays. */
export function badRequests({ h, capabilities: { requestForm: form } }: GroupContext): void {
  const error = { type: 'error', code: 'bad_request', message: expect.any(String) };
  const cases: [string, (client: RealtimeClient) => void][] =
    form === 'text'
      ? [
          ['text that is not JSON', (c) => c.sendText!('hello?')],
          ['a JSON array', (c) => c.sendText!('[1,2]')],
          ['a JSON string', (c) => c.sendText!('"echo"')],
          ['JSON null', (c) => c.sendText!('null')],
          ['an object without type', (c) => c.sendText!('{"payload":1}')],
          ['a non-string type', (c) => c.sendText!('{"type":1,"payload":1}')],
          ['an unknown type', (c) => c.sendText!('{"type":"shout","payload":1}')],
          ['an echo without payload', (c) => c.sendText!('{"type":"echo"}')],
          ['a broadcast without payload', (c) => c.sendText!('{"type":"broadcast","extra":1}')],
          ['an empty text', (c) => c.sendText!('')],
        ]
      : [
          ['a string argument', (c) => c.emit!('echo', 'hello')],
          ['an array argument', (c) => c.emit!('echo', [1, 2])],
          ['no argument', (c) => c.emit!('broadcast')],
          ['an object without payload', (c) => c.emit!('echo', { other: 1 })],
          ['an unknown event', (c) => c.emit!('shout', { payload: 1 })],
        ];
  describe('bad requests (section 1)', () => {
    it.each(cases)('answers %s with bad_request and keeps the connection', async (_name, sendBad) => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      sendBad(a.client);
      expect(await a.client.receive()).toStrictEqual(error);
      a.client.send({ type: 'echo', payload: 'still here' });
      expect(await a.client.receive()).toStrictEqual({ type: 'echo', payload: 'still here' });
      // Only the sender was answered: b's next message is a's later broadcast.
      a.client.send({ type: 'broadcast', payload: 'marker' });
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: 'marker' });
    });

    it('ignores extra fields in a valid request', async () => {
      await h.start();
      const { client } = await h.join();
      if (form === 'text') client.sendText!('{"type":"echo","payload":[1],"id":"x","from":"y"}');
      else client.emit!('echo', { payload: [1], id: 'x', from: 'y' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: [1] });
    });
  });
}

/** Many clients broadcasting at once: every message delivered exactly once. */
export function concurrency({ h }: GroupContext): void {
  describe('concurrency (section 1)', () => {
    it(
      '200 clients broadcasting at once: every message delivered exactly once',
      async () => {
        const n = 200;
        await h.start();
        const joined = [];
        for (let batch = 0; batch < n; batch += 50) {
          joined.push(...(await Promise.all(Array.from({ length: Math.min(50, n - batch) }, () => h.join()))));
        }
        const ids = joined.map((j) => j.id);
        expect(new Set(ids).size).toBe(n);
        for (const { client } of joined) client.send({ type: 'broadcast', payload: { from: 'test' } });
        await Promise.all(
          joined.map(async ({ client, id }) => {
            const seen = new Map<string, number>();
            for (let i = 0; i < n; i++) {
              const message = await client.receive('broadcast', 30_000);
              seen.set(message.from, (seen.get(message.from) ?? 0) + 1);
            }
            expect([...seen.keys()].sort()).toEqual([...ids].sort());
            expect([...seen.values()].every((count) => count === 1)).toBe(true);
            const result = await client.receive('broadcastResult', 30_000);
            expect(result.recipients).toBe(n);
            // Every broadcast was handled before this echo; a duplicate would precede its reply.
            client.send({ type: 'echo', payload: id });
            await client.receive('echo', 30_000);
            expect(client.pending().filter((m) => m.type === 'broadcast')).toHaveLength(0);
          }),
        );
      },
      HEAVY * 2,
    );
  });
}
