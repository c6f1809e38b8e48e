// CONTRACT.md section 5, scale-out: two servers of the adapter in one process, one in-process bus.
// Several processes on Redis, and servers of different adapters on one bus, are @socketlab/scale-out's.

import { createInProcessBus } from '@socketlab/bus';
import { within } from '@socketlab/contract';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { GroupContext } from '../group.js';

/** Broadcasts, joins and leaves reach the clients of every server on the bus; nothing else crosses. */
export function busDelivery({ h, capabilities: { binaryMessages } }: GroupContext): void {
  describe('scale-out on an in-process bus (section 5)', () => {
    /** Two servers on one bus; `one` is also `h.server`. */
    const startTwo = async () => {
      const bus = createInProcessBus();
      onTestFinished(() => bus.close());
      const one = await h.start({ bus });
      const two = await h.startOther({ bus });
      return { one, two };
    };

    it('delivers broadcasts to the clients of both servers; recipients counts the sending server only', async () => {
      const { one, two } = await startTwo();
      const a = await h.join({}, one);
      const b = await h.join({}, two);
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: b.id });
      const c = await h.join({}, one);
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: c.id });
      expect(await b.client.receive()).toStrictEqual({ type: 'join', id: c.id });

      const payload = { text: 'to every server', n: [1, 2] };
      a.client.send({ type: 'broadcast', payload });
      const copy = { type: 'broadcast', from: a.id, payload };
      expect(await a.client.receive()).toStrictEqual(copy);
      expect(await a.client.receive()).toStrictEqual({ type: 'broadcastResult', payload, recipients: 2 });
      expect(await c.client.receive()).toStrictEqual(copy);
      expect(await b.client.receive()).toStrictEqual(copy);

      b.client.send({ type: 'broadcast', payload: 'back' });
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: b.id, payload: 'back' });
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcastResult', payload: 'back', recipients: 1 });
      expect(await a.client.receive()).toStrictEqual({ type: 'broadcast', from: b.id, payload: 'back' });
      expect(await c.client.receive()).toStrictEqual({ type: 'broadcast', from: b.id, payload: 'back' });
    });

    it('announces joins and leaves to the clients of the other server, however the connection ends', async () => {
      const { one, two } = await startTwo();
      const a = await h.join({}, one);
      const b = await h.join({}, two);
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: b.id });
      const c = await h.join({}, two);
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: c.id });
      expect(await b.client.receive()).toStrictEqual({ type: 'join', id: c.id });

      await b.client.close();
      expect(await a.client.receive()).toStrictEqual({ type: 'leave', id: b.id });
      expect(await c.client.receive()).toStrictEqual({ type: 'leave', id: b.id });
      c.client.terminate();
      expect(await a.client.receive()).toStrictEqual({ type: 'leave', id: c.id });
    });

    it('welcomes a newcomer with the clients of both servers (members); presence sets agree', async () => {
      const { one, two } = await startTwo();
      const a = await h.join({}, one);
      const b = await h.join({}, two);
      expect(b.members).toStrictEqual([a.id]);
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: b.id });
      const c = await h.join({}, one);
      expect(new Set(c.members)).toStrictEqual(new Set([a.id, b.id]));
      await b.client.receive('join');
      const d = await h.join({}, two);
      expect(new Set(d.members)).toStrictEqual(new Set([a.id, b.id, c.id]));
      expect(d.members).toHaveLength(3);
      // a still holds c's join unread; each takes joins until d's, so d's has arrived everywhere.
      for (const m of [a, b, c]) while ((await m.client.receive('join')).id !== d.id);
      const all = [a, b, c, d];
      for (const m of all) {
        expect(m.client.members).toStrictEqual(new Set(all.filter((o) => o !== m).map((o) => o.id)));
      }
    });

    it('keeps echoes and broadcast results with their sender: only broadcasts cross', async () => {
      const { one, two } = await startTwo();
      const a = await h.join({}, one);
      const b = await h.join({}, two);
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: b.id });

      a.client.send({ type: 'echo', payload: 'private' });
      if (binaryMessages) a.client.sendBinary(Uint8Array.of(1, 2, 3));
      a.client.send({ type: 'broadcast', payload: 1 });
      a.client.send({ type: 'broadcast', payload: 2 });
      // Anything that crossed besides the broadcasts would arrive before or between them.
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: 1 });
      expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: 2 });
      expect(await a.client.receive()).toStrictEqual({ type: 'echo', payload: 'private' });
      if (binaryMessages) expect((await a.client.receive()).type).toBe('binary');
      expect(await a.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: 1 });
      expect(await a.client.receive()).toStrictEqual({ type: 'broadcastResult', payload: 1, recipients: 1 });
    });

    it('announces the leaves of a closed server to the clients of the other server', async () => {
      const { one, two } = await startTwo();
      const a = await h.join({}, one);
      const b = await h.join({}, two);
      expect(await a.client.receive()).toStrictEqual({ type: 'join', id: b.id });

      await within(two.close(), 10_000, 'the second server to close');
      expect(await a.client.receive()).toStrictEqual({ type: 'leave', id: b.id });
      a.client.send({ type: 'echo', payload: 'still served' });
      expect(await a.client.receive()).toStrictEqual({ type: 'echo', payload: 'still served' });
    });
  });
}
