import { closePayload, Opcode, RawPeer } from '@socketlab/conformance';
import type { RealtimeClient, RealtimeServer } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { CLOSE_TIMEOUT } from '../src/constants.js';
import { connect, createServer } from '../src/index.js';

/**
 * A peer that never sends its FIN (it keeps its side open after the server's: Duplex's
 * documented `allowHalfOpen`). The others must get `leave` when the closing handshake is done
 * or the connection failed, not when the closing-handshake timeout finally destroys the socket.
 * The wait for `leave` stays under that timeout so that only the fix can pass.
 */
const LEAVE_WAIT = CLOSE_TIMEOUT - 2_000;

describe('net server: a peer that never sends its FIN', () => {
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
    server = await createServer();
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

  it('sends leave once the closing handshake is done, and closes TCP first', async () => {
    const { observer, peer, id } = await observerAndHalfOpenPeer();
    peer.sendFrame({ opcode: Opcode.close, payload: closePayload(1000) });
    expect(await peer.readClose()).toMatchObject({ code: 1000, frame: true });
    expect(await observer.receive('leave', LEAVE_WAIT)).toStrictEqual({ type: 'leave', id });
    await peer.waitEnd();
  });

  it('sends leave once it has failed the connection', async () => {
    const { observer, peer, id } = await observerAndHalfOpenPeer();
    peer.sendFrame({ opcode: Opcode.text, payload: 'unmasked', mask: false });
    expect(await peer.readClose()).toMatchObject({ code: 1002, frame: true });
    expect(await observer.receive('leave', LEAVE_WAIT)).toStrictEqual({ type: 'leave', id });
    await peer.waitEnd();
  });
});
