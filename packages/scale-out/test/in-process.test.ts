import { createInProcessBus } from '@socketlab/bus';
import type { RealtimeClient, RealtimeServer } from '@socketlab/contract';
import { adapter } from '@socketlab/ws';
import { afterEach, describe, expect, it } from 'vitest';

describe('servers in one process on the in-process bus', () => {
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
});
