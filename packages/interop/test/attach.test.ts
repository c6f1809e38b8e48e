import { createServer as createHttpServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Adapter, RealtimeClient, RealtimeServer } from '@socketlab/contract';
import { adapter as socketio } from '@socketlab/socketio';
import { afterEach, describe, expect, it } from 'vitest';
import { WEBSOCKET_ADAPTERS } from './adapters.js';

/** Every adapter of the catalog, socket.io included: each gets its own path on one app server. */
const ADAPTERS: readonly Adapter[] = [...WEBSOCKET_ADAPTERS, socketio];

describe('every adapter attached to one app server, side by side', () => {
  const servers: RealtimeServer[] = [];
  const clients: RealtimeClient[] = [];
  let app: Server | undefined;
  afterEach(async () => {
    for (const client of clients.splice(0)) client.terminate();
    await Promise.all(servers.splice(0).map((server) => server.close()));
    app?.close();
    app?.closeAllConnections();
  });

  it('serves each on its path; the app keeps its routes; closing one leaves the others', async () => {
    app = createHttpServer((req, res) => res.end(`app:${req.url}`));
    await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
    const attached = await Promise.all(
      ADAPTERS.map(async (adapter) => {
        const server = await adapter.createServer({ server: app, path: `/${adapter.name}` });
        servers.push(server);
        return { adapter, server };
      }),
    );
    const joined = await Promise.all(
      attached.map(async ({ adapter, server }) => {
        expect(server.url).toMatch(new RegExp(`/${adapter.name}$`));
        const client = await adapter.connect(server.url);
        clients.push(client);
        expect(await client.receive()).toMatchObject({ type: 'welcome' });
        return { adapter, server, client };
      }),
    );
    for (const { adapter, server, client } of joined) {
      client.send({ type: 'broadcast', payload: adapter.name });
      expect(await client.receive('broadcastResult')).toMatchObject({ payload: adapter.name, recipients: 1 });
      expect(server.connectionCount).toBe(1);
    }
    // Each is its own room: every client heard only its own broadcast.
    for (const { client, adapter } of joined) {
      expect(client.pending()).toStrictEqual([{ type: 'broadcast', from: expect.any(String), payload: adapter.name }]);
    }
    expect(await get(app, '/index.html')).toBe('app:/index.html');

    const [first, ...rest] = joined;
    await first!.server.close();
    await first!.client.closed;
    for (const { client } of rest) {
      client.send({ type: 'echo', payload: 'still served' });
      expect(await client.receive('echo')).toStrictEqual({ type: 'echo', payload: 'still served' });
    }
    expect(await get(app, '/after')).toBe('app:/after');
  });
});

function get(server: Server, path: string): Promise<string> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}
