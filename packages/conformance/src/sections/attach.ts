// Attaching to the app's own server (`createServer({ server, path })`), as ws takes `{ server }`
// and socket.io `new Server(httpServer)`: every adapter can, so this group needs no capability.

import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, request, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { CloseCode, within } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupContext } from '../group.js';
import { testTls } from '../tls.js';

/** The app's own handler: it answers every plain request it gets with its path. */
function appHandler(req: IncomingMessage, res: import('node:http').ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`app:${req.url}`);
}

/** A plain GET on the app's server: status and body. */
function get(server: Server, path: string): Promise<{ status: number; body: string }> {
  const { port } = server.address() as AddressInfo;
  return within(
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    }),
    5_000,
    `GET ${path} on the app's server`,
  );
}

/** An upgrade request on `path`: the status of whatever answers it. */
function upgradeStatus(server: Server, path: string): Promise<number> {
  const { port } = server.address() as AddressInfo;
  return within(
    new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Protocol': 'echo-protocol',
        },
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    }),
    5_000,
    `an upgrade on ${path}`,
  );
}

export function attach({ h, capabilities: { closeCodes, websocketProtocol } }: GroupContext): void {
  describe('attached to the app’s server (section 3)', () => {
    const appServers: Server[] = [];
    // Not awaited: this runs before the harness closes the adapters' servers and clients, and
    // the app's server closes once their upgraded sockets are gone.
    afterEach(() => {
      for (const server of appServers.splice(0)) {
        server.close();
        server.closeAllConnections();
      }
    });
    /** The app's server, listening on loopback port 0 (`app.listen()` would not wait: the adapter does). */
    const appServer = (server: Server = createHttpServer(appHandler)): Server => {
      server.listen(0, '127.0.0.1');
      appServers.push(server);
      return server;
    };

    it('serves the contract on the app’s server, on its path, and the app’s other routes still answer', async () => {
      const app = appServer();
      const server = await h.start({ server: app });
      const { port } = app.address() as AddressInfo;
      expect(server.port).toBe(port);
      // The WebSocket adapters serve `/`, socket.io `/socket.io/`: what its clients ask for given `http://host:port/`.
      expect(server.url).toBe(`${websocketProtocol ? 'ws' : 'http'}://127.0.0.1:${port}/`);
      const { client } = await h.join();
      client.send({ type: 'echo', payload: { attached: true } });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: { attached: true } });
      expect(await get(app, '/health?x=1')).toStrictEqual({ status: 200, body: 'app:/health?x=1' });
      expect(await get(app, '/socket.io')).toStrictEqual({ status: 200, body: 'app:/socket.io' });
    });

    it('leaves an upgrade on another path to the app’s own listener', async () => {
      const app = appServer();
      app.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
        if (req.url === '/elsewhere') socket.end('HTTP/1.1 418 I am the app\r\nConnection: close\r\n\r\n');
      });
      await h.start({ server: app, path: '/live' });
      expect(h.server.url).toMatch(/:\d+\/live$/);
      expect(await upgradeStatus(app, '/elsewhere')).toBe(418);
      const { client } = await h.join();
      client.send({ type: 'echo', payload: 'on /live' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'on /live' });
    });

    it('close() closes its connections and leaves the app’s server listening', async () => {
      const app = appServer();
      await h.start({ server: app });
      const { client } = await h.join();
      await within(h.server.close(), 10_000, 'close() of the attached server');
      const info = await within(client.closed, 5_000, 'the client to see the close');
      if (closeCodes) expect(info.code).toBe(CloseCode.goingAway);
      expect(app.listening).toBe(true);
      expect(await get(app, '/after')).toStrictEqual({ status: 200, body: 'app:/after' });
      // Nothing of the adapter's is left on the app's server: a new attach serves again.
      const again = await h.startOther({ server: app });
      const next = await h.join({}, again);
      next.client.send({ type: 'echo', payload: 'again' });
      expect(await next.client.receive()).toStrictEqual({ type: 'echo', payload: 'again' });
    });

    it('two servers on one app server, on two paths, are two rooms side by side', async () => {
      const app = appServer();
      const a = await h.start({ server: app, path: '/a' });
      const b = await h.startOther({ server: app, path: '/b' });
      const onA = await h.join({}, a);
      const onB = await h.join({}, b);
      onA.client.send({ type: 'broadcast', payload: 'to /a' });
      expect(await onA.client.receive('broadcast')).toStrictEqual({
        type: 'broadcast',
        from: onA.id,
        payload: 'to /a',
      });
      expect(await onA.client.receive('broadcastResult')).toMatchObject({ recipients: 1 });
      onB.client.send({ type: 'echo', payload: 'on /b' });
      expect(await onB.client.receive()).toStrictEqual({ type: 'echo', payload: 'on /b' });
      // /b never heard /a's broadcast: the echo came first and nothing else is waiting.
      expect(onB.client.pending()).toStrictEqual([]);
      expect(a.connectionCount).toBe(1);
      expect(b.connectionCount).toBe(1);
      expect(await get(app, '/c')).toStrictEqual({ status: 200, body: 'app:/c' });
    });

    it('attaches to an https.Server: wss:// (socket.io https://) with the app’s certificate', async () => {
      const { leaf } = testTls();
      const app = appServer(createHttpsServer({ cert: leaf.cert, key: leaf.key }, appHandler));
      await once(app, 'listening');
      const server = await h.start({ server: app });
      expect(server.url).toMatch(websocketProtocol ? /^wss:\/\// : /^https:\/\//);
      // The certificate is the app's to change.
      expect(() => server.reloadTls({ cert: leaf.cert, key: leaf.key })).toThrow(/attached/);
      const { client } = await h.join({ ca: leaf.ca });
      client.send({ type: 'echo', payload: 'attached over tls' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'attached over tls' });
    });
  });
}
