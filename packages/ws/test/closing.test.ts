import { closePayload, Opcode, RawPeer, within } from '@socketlab/conformance';
import type { RealtimeClient, RealtimeServer } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer } from '../src/index.js';

/**
 * A peer that never sends its FIN (it keeps its side open after the server's: Duplex's
 * documented `allowHalfOpen`). The others must get `leave` when the closing handshake is done
 * or the connection failed, not when ws's 30 s close timer finally destroys the socket.
 */
const LEAVE_WAIT = 10_000;

describe('ws server: a peer that never sends its FIN', () => {
  let server: RealtimeServer | undefined;
  const peers: RawPeer[] = [];
  const clients: RealtimeClient[] = [];
  afterEach(async () => {
    for (const peer of peers.splice(0)) peer.destroy();
    for (const client of clients.splice(0)) client.terminate();
    await server?.close();
    server = undefined;
  });

  const observerAndHalfOpenPeer = async () => {
    server = await createServer({ maxPayload: 1024 });
    const observer = await connect(server.url);
    clients.push(observer);
    await observer.receive('welcome');
    const peer = await RawPeer.upgraded(server.port);
    peers.push(peer);
    peer.socket.allowHalfOpen = true;
    const welcome = JSON.parse((await peer.readFrame()).payload.toString()) as { id: string };
    expect(await observer.receive('join')).toStrictEqual({ type: 'join', id: welcome.id });
    return { observer, peer, id: welcome.id };
  };

  it('sends leave once the closing handshake is done, and closes TCP first', { timeout: 15_000 }, async () => {
    const { observer, peer, id } = await observerAndHalfOpenPeer();
    peer.sendFrame({ opcode: Opcode.close, payload: closePayload(1000) });
    expect(await peer.readClose()).toMatchObject({ code: 1000, frame: true });
    expect(await observer.receive('leave', LEAVE_WAIT)).toStrictEqual({ type: 'leave', id });
    await peer.waitEnd();
  });

  it.each([
    ['a protocol violation', { opcode: Opcode.text, payload: 'unmasked', mask: false }, 1002],
    ['an over-limit message', { opcode: Opcode.binary, payload: Buffer.alloc(2048) }, 1009],
  ])('sends leave once it has failed the connection for %s', { timeout: 15_000 }, async (_name, frame, code) => {
    const { observer, peer, id } = await observerAndHalfOpenPeer();
    peer.sendFrame(frame);
    expect(await peer.readClose()).toMatchObject({ code, frame: true });
    expect(await observer.receive('leave', LEAVE_WAIT)).toStrictEqual({ type: 'leave', id });
    await peer.waitEnd();
  });

  it('destroys on close() a socket that lingers after its closing handshake', { timeout: 15_000 }, async () => {
    const { peer } = await observerAndHalfOpenPeer();
    peer.sendFrame({ opcode: Opcode.close, payload: closePayload(1000) });
    await peer.readClose();
    await peer.waitEnd();
    // A peer that keeps sending stays out of the idle linger: only ws's 30 s timer would end it.
    const failed = new Promise<string>((resolve) => {
      peer.socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    const chatter = setInterval(() => peer.socket.write('x'), 50);
    try {
      await server?.close();
      server = undefined;
      // Writes to a socket the server has destroyed are answered with a reset.
      expect(await within(failed, LEAVE_WAIT, 'the server to destroy the lingering socket')).toMatch(
        /ECONNRESET|EPIPE/,
      );
    } finally {
      clearInterval(chatter);
    }
  });
});
