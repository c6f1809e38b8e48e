import { createInProcessBus } from '@socketlab/bus';
import { type Adapter, CATALOG, type RealtimeClient, type RealtimeServer } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';

/** Every adapter of the catalog, loaded from its package. */
const adapters: Adapter[] = await Promise.all(
  CATALOG.map(async (entry) => ((await import(entry.package)) as { adapter: Adapter }).adapter),
);

describe('servers of every adapter in one process on the in-process bus', () => {
  const servers: RealtimeServer[] = [];
  const clients: RealtimeClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it(`joins ${adapters.map((a) => a.name).join(', ')} into one room; recipients stay local`, async () => {
    const bus = createInProcessBus();
    for (const adapter of adapters) servers.push(await adapter.createServer({ bus }));
    const members: { client: RealtimeClient; id: string }[] = [];
    for (const [i, adapter] of adapters.entries()) {
      const client = await adapter.connect(servers[i]!.url);
      clients.push(client);
      const { id, members: roster } = await client.receive('welcome');
      // The roster spans every server on the bus.
      expect(new Set(roster)).toStrictEqual(new Set(members.map((m) => m.id)));
      expect(roster).toHaveLength(members.length);
      // Everyone already here hears of the newcomer, whichever server they are on.
      for (const earlier of members) expect(await earlier.client.receive('join')).toStrictEqual({ type: 'join', id });
      members.push({ client, id });
    }

    const [sender, ...others] = members as [(typeof members)[number], ...typeof members];
    sender.client.send({ type: 'broadcast', payload: { n: 1 } });
    expect(await sender.client.receive()).toStrictEqual({ type: 'broadcast', from: sender.id, payload: { n: 1 } });
    expect(await sender.client.receive()).toStrictEqual({
      type: 'broadcastResult',
      payload: { n: 1 },
      recipients: 1,
    });
    for (const other of others) {
      expect(await other.client.receive()).toStrictEqual({ type: 'broadcast', from: sender.id, payload: { n: 1 } });
    }

    sender.client.terminate();
    for (const other of others) {
      expect(await other.client.receive()).toStrictEqual({ type: 'leave', id: sender.id });
      // Nothing else crossed: no echo of their own events, no duplicates.
      expect(other.client.pending()).toEqual([]);
    }

    // A server that closes: its client leaves for everyone else at once (the room says bye).
    const [closing, ...staying] = others as [(typeof members)[number], ...typeof members];
    await servers[1]!.close();
    for (const other of staying) {
      expect(await other.client.receive('leave')).toStrictEqual({ type: 'leave', id: closing.id });
      expect(other.client.members).toStrictEqual(new Set(staying.filter((o) => o !== other).map((o) => o.id)));
    }
  });
});
