import type { RealtimeClient, RealtimeServer } from '@socketlab/contract';
import { adapter } from '@socketlab/ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createInProcessBus } from '../src/index.js';
import { recordingLogger } from '../src/testing.js';

describe('in-process bus', () => {
  const servers: RealtimeServer[] = [];
  const clients: RealtimeClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  const join = async (server: RealtimeServer) => {
    const client = await adapter.connect(server.url);
    clients.push(client);
    const welcome = await client.receive('welcome');
    return { client, id: welcome.id };
  };

  it('joins two servers in one process into one room; recipients stay local', async () => {
    const bus = createInProcessBus();
    servers.push(await adapter.createServer({ bus }), await adapter.createServer({ bus }));
    const [one, two] = servers as [RealtimeServer, RealtimeServer];
    const a = await join(one);
    const b = await join(two);
    expect(await a.client.receive('join')).toStrictEqual({ type: 'join', id: b.id });

    a.client.send({ type: 'broadcast', payload: { n: 1 } });
    expect(await a.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: { n: 1 } });
    expect(await a.client.receive()).toStrictEqual({ type: 'broadcastResult', payload: { n: 1 }, recipients: 1 });
    expect(await b.client.receive()).toStrictEqual({ type: 'broadcast', from: a.id, payload: { n: 1 } });

    a.client.terminate();
    expect(await b.client.receive()).toStrictEqual({ type: 'leave', id: a.id });
    // Nothing else crossed: no echo of b's own events, no duplicates.
    expect(b.client.pending()).toEqual([]);
  });

  it('delivers in publish order, after the publisher returns, to every subscriber', async () => {
    const bus = createInProcessBus();
    const seen: string[] = [];
    bus.subscribe((event) => seen.push(`first:${event.kind}`));
    const unsubscribe = bus.subscribe((event) => seen.push(`second:${event.kind}`));
    bus.publish({ kind: 'join', origin: 'r', id: 'a' });
    bus.publish({ kind: 'leave', origin: 'r', id: 'a' });
    expect(seen).toEqual([]);
    await Promise.resolve();
    await Promise.resolve();
    expect(seen).toEqual(['first:join', 'second:join', 'first:leave', 'second:leave']);
    unsubscribe();
    bus.publish({ kind: 'join', origin: 'r', id: 'b' });
    await Promise.resolve();
    expect(seen.at(-1)).toBe('first:join');
    expect(seen).toHaveLength(5);
  });

  it('logs a throwing handler and still delivers to the others', async () => {
    const logger = recordingLogger();
    const bus = createInProcessBus({ logger });
    const seen: string[] = [];
    bus.subscribe(() => {
      throw new Error('handler bug');
    });
    bus.subscribe((event) => seen.push(event.kind));
    bus.publish({ kind: 'join', origin: 'r', id: 'a' });
    await Promise.resolve();
    expect(seen).toEqual(['join']);
    expect(logger.has('bus handler failed')).toBe(true);
  });
});
