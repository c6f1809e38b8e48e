// CONTRACT.md section 4, limits and failure, as seen through a client.

import { randomBytes } from 'node:crypto';
import { Server } from 'node:net';
import { CloseCode, closeReasonFor, DEFAULTS, type RealtimeClient, silentLogger, within } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import type { GroupContext } from '../group.js';
import { HEAVY, KiB } from '../helpers.js';

/**
 * A message over the limit closes that connection with 1009; nothing else is affected. The
 * reason is the one every adapter sends with 1009 (`closeReasonFor` in the contract).
 */
export function maxMessageSize({ h, capabilities: { closeCodes, binaryMessages } }: GroupContext): void {
  const expectClosedTooBig = async (client: RealtimeClient): Promise<void> => {
    const info = await within(client.closed, 10_000, 'the over-limit client to be closed');
    if (closeCodes) {
      expect(info).toStrictEqual({ code: CloseCode.messageTooBig, reason: closeReasonFor(CloseCode.messageTooBig) });
    }
  };
  describe('max message size (section 4)', () => {
    it('closes a text message over the default 1 MiB with 1009; the others go on', async () => {
      await h.start();
      const [a, b] = await h.joinAll(2);
      a.client.send({ type: 'echo', payload: 'y'.repeat(DEFAULTS.maxPayload) });
      await expectClosedTooBig(a.client);
      expect(await b.client.receive()).toStrictEqual({ type: 'leave', id: a.id });
      b.client.send({ type: 'echo', payload: 'unaffected' });
      expect(await b.client.receive()).toStrictEqual({ type: 'echo', payload: 'unaffected' });
    });

    it('accepts a message just under a configured limit and closes one just over it', async () => {
      const limit = 64 * KiB;
      await h.start({ maxPayload: limit });
      const [a, b] = await h.joinAll(2);
      const under = 'u'.repeat(limit - 1024);
      a.client.send({ type: 'echo', payload: under });
      expect(await a.client.receive()).toStrictEqual({ type: 'echo', payload: under });
      a.client.send({ type: 'echo', payload: 'o'.repeat(limit + 1) });
      await expectClosedTooBig(a.client);
      expect(await b.client.receive()).toStrictEqual({ type: 'leave', id: a.id });
      expect(h.server.connectionCount).toBe(1);
    });

    if (binaryMessages) {
      it('closes a binary message over the limit with 1009', async () => {
        await h.start({ maxPayload: 16 * KiB });
        const { client } = await h.join();
        client.sendBinary(new Uint8Array(16 * KiB + 1));
        await expectClosedTooBig(client);
      });
    }
  });
}

/** A client too far behind is dropped; the others get everything; memory stays bounded. */
export function slowConsumer({ h }: GroupContext): void {
  describe('slow consumer (section 4)', () => {
    it(
      'drops a client that stops reading; its peers receive the whole flood; buffers stay bounded',
      async () => {
        const outboundLimit = 1024 * KiB;
        const messageSize = 64 * KiB;
        const count = 320; // 20 MiB to each reader: far beyond kernel buffers plus the limit
        await h.start({ outboundLimit });
        const [sender, reader, slow] = await h.joinAll(3);
        slow.client.pauseReading();
        // Random (base64): a flood even through permessage-deflate, whose window (32 KiB) is
        // shorter than one message, so no message can lean on the one before it.
        const body = randomBytes((messageSize * 3) / 4).toString('base64');
        const leave = reader.client.receive('leave', HEAVY);
        // Paced in windows well under the limit, so only the client that stopped reading falls behind.
        // The sender gets two messages per broadcast (its copy and the result): 4 keep it at half the
        // limit even where the server can only deliver when the client asks (socket.io polling).
        const window = 4;
        for (let start = 0; start < count; start += window) {
          for (let i = start; i < start + window; i++) sender.client.send({ type: 'broadcast', payload: { i, body } });
          for (let i = start; i < start + window; i++) {
            const message = await reader.client.receive('broadcast', 30_000);
            expect(message).toStrictEqual({ type: 'broadcast', from: sender.id, payload: { i, body } });
            await sender.client.receive('broadcast', 30_000);
            await sender.client.receive('broadcastResult', 30_000);
          }
        }
        expect(await leave).toStrictEqual({ type: 'leave', id: slow.id });
        const { peakBufferedBytes } = h.server.stats();
        expect(peakBufferedBytes).toBeGreaterThan(0);
        // One message may land on top of the limit before the check drops the connection.
        expect(peakBufferedBytes).toBeLessThanOrEqual(outboundLimit + 2 * (messageSize + KiB));
        expect(h.server.connectionCount).toBe(2);
      },
      HEAVY,
    );
  });
}

/** A peer that stops answering pings is terminated; the others get leave. */
export function heartbeat({ h }: GroupContext): void {
  describe('heartbeat (section 4)', () => {
    it(
      'terminates a peer that stops answering pings and tells the others; live peers stay',
      async () => {
        const interval = 1_000;
        await h.start({ heartbeatInterval: interval });
        const [live, dead] = await h.joinAll(2);
        dead.client.pauseReading();
        expect(await live.client.receive('leave', 10 * interval)).toStrictEqual({ type: 'leave', id: dead.id });
        // The live client has answered at least two pings by now and is still served.
        live.client.send({ type: 'echo', payload: 'alive' });
        expect(await live.client.receive('echo')).toStrictEqual({ type: 'echo', payload: 'alive' });
        expect(h.server.connectionCount).toBe(1);
      },
      HEAVY,
    );
  });
}

/** close() sends 1001 to everyone and terminates what is left after the shutdown timeout. */
export function shutdown({ h, capabilities: { closeCodes } }: GroupContext): void {
  describe('shutdown (section 4)', () => {
    it('sends 1001 to every client and resolves', async () => {
      await h.start();
      const joined = await h.joinAll(3);
      await within(h.server.close(), 10_000, 'server.close()');
      for (const { client } of joined) {
        const info = await within(client.closed, 5_000, 'client to see the close');
        // The same reason on every adapter.
        if (closeCodes) {
          expect(info).toStrictEqual({ code: CloseCode.goingAway, reason: closeReasonFor(CloseCode.goingAway) });
        }
      }
      expect(h.server.connectionCount).toBe(0);
    });

    it(
      'terminates a client that does not complete the closing handshake after the shutdown timeout',
      async () => {
        await h.start({ shutdownTimeout: 300 });
        const [polite, stuck] = await h.joinAll(2);
        stuck.client.pauseReading();
        await within(h.server.close(), 10_000, 'server.close() with a stuck client');
        const info = await within(polite.client.closed, 5_000, 'the polite client to see the close');
        if (closeCodes) expect(info.code).toBe(CloseCode.goingAway);
        expect(h.server.connectionCount).toBe(0);
      },
      HEAVY,
    );
  });
}

/**
 * A server-level error after listening (an `accept EMFILE` when the process is out of file
 * descriptors, say) is logged and the server goes on serving: with no 'error' listener on the
 * listening server it would throw out of the event loop and end the process.
 */
export function serverErrors({ h }: GroupContext): void {
  describe('server errors (section 4)', () => {
    it('logs a server-level error after listening and goes on serving', async () => {
      const logged: { msg: string | undefined; code?: unknown }[] = [];
      const logger = { ...silentLogger, error: (obj: object, msg?: string) => logged.push({ ...obj, msg }) };
      const listening = await listeningServersOf(() => h.start({ logger }));
      expect(listening.length, 'the server the adapter listens with').toBeGreaterThan(0);
      const failure = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
      for (const server of listening) expect(() => server.emit('error', failure)).not.toThrow();
      expect(logged).toContainEqual(expect.objectContaining({ msg: 'server error', code: 'EMFILE' }));
      const { client } = await h.join();
      client.send({ type: 'echo', payload: 'still serving' });
      expect(await client.receive()).toStrictEqual({ type: 'echo', payload: 'still serving' });
    });
  });
}

/** The node:net servers (http servers included) that start listening while `start` runs. */
async function listeningServersOf(start: () => Promise<unknown>): Promise<Server[]> {
  const servers: Server[] = [];
  const { listen } = Server.prototype;
  Server.prototype.listen = function (this: Server, ...args: unknown[]) {
    servers.push(this);
    return (listen as (...a: unknown[]) => Server).apply(this, args);
  } as typeof listen;
  try {
    await start();
  } finally {
    Server.prototype.listen = listen;
  }
  return servers.filter((server) => server.listening);
}
