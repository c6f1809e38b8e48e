import type { RealtimeServer } from '@socketlab/contract';
import { LibraryInternalsError } from '@socketlab/contract';
import { afterEach, describe, expect, it } from 'vitest';
import websocket from 'websocket';
import { connect, createServer } from '../src/index.js';
import { checkConnectionInternals, probeConnection } from '../src/internals.js';

/**
 * The start-up check of internals.ts against the installed WebSocket-Node, and against real
 * connections with one internal gone (what an upgrade that renamed it would look like).
 */

/** A copy of the library's connection prototype without `method`, everything else inherited. */
function prototypeWithout(method: string): object {
  return Object.create(websocket.connection.prototype, { [method]: { value: undefined } });
}

/** A real connection (the library's constructor) whose class lacks `method`. */
function connectionWithout(method: string): websocket.connection {
  return Object.setPrototypeOf(probeConnection(), prototypeWithout(method)) as websocket.connection;
}

/** A real connection whose frame being parsed lacks `field`. */
function connectionWithFrameWithout(field: string): websocket.connection {
  const connection = probeConnection();
  delete (connection.currentFrame as unknown as Record<string, unknown>)[field];
  return connection;
}

describe('WebSocket-Node internals, checked at createServer and connect', () => {
  let server: RealtimeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('are all there in the installed version, on a probe and on a live client connection', async () => {
    expect(() => checkConnectionInternals(probeConnection())).not.toThrow();
    server = await createServer();
    let live: websocket.connection | undefined;
    const library = new websocket.client();
    const connected = new Promise<websocket.connection>((resolve, reject) => {
      library.once('connect', resolve);
      library.once('connectFailed', reject);
    });
    library.connect(server.url, ['echo-protocol']);
    try {
      live = await connected;
      expect(() => checkConnectionInternals(live!)).not.toThrow();
      expect(() => checkConnectionInternals(live!, 'client')).not.toThrow();
    } finally {
      live?.drop(1000, 'done', true);
    }
    // The adapter's own client runs the check itself.
    const client = await connect(server.url);
    expect(await client.receive('welcome')).toMatchObject({ type: 'welcome' });
    client.terminate();
  });

  it.each([
    ['processFrame', /connection "processFrame" \(the handling of each frame read\), used for the client frame rules/],
    ['sendCloseFrame', /connection "sendCloseFrame", used for echoing the peer's close code/],
    ['drop', /connection "drop\(reasonCode, description, skipCloseFrame\)", used for lingering after a drop/],
  ])('names connection "%s" when the prototype lacks it', (method, message) => {
    const connection = connectionWithout(method);
    expect(() => checkConnectionInternals(connection)).toThrow(LibraryInternalsError);
    expect(() => checkConnectionInternals(connection)).toThrow(message);
    expect(() => checkConnectionInternals(connection)).toThrow(/^WebSocket-Node 1\.0\.35 internal missing: /);
  });

  it('names a drop that lost its skipCloseFrame parameter', () => {
    const connection = probeConnection();
    const drop = connection.drop;
    connection.drop = (reasonCode?: number, description?: string) => drop.call(connection, reasonCode, description);
    expect(() => checkConnectionInternals(connection)).toThrow(
      /connection "drop\(reasonCode, description, skipCloseFrame\)"/,
    );
  });

  it('names connection "currentFrame" when it moved', () => {
    const connection = probeConnection();
    delete (connection as unknown as Record<string, unknown>).currentFrame;
    expect(() => checkConnectionInternals(connection)).toThrow(/connection "currentFrame" \(the frame being parsed\)/);
  });

  it.each([
    ['closeStatus', /frame "closeStatus", used for the close frame rules/],
    ['invalidCloseFrameLength', /frame "invalidCloseFrameLength", used for refusing a one-byte close payload/],
    ['protocolError', /frame "protocolError", used for 1009 for a 64-bit length/],
    ['frameHeader', /frame "frameHeader", used for 1009 for a 64-bit length/],
  ])('names frame "%s" when the frame lacks it', (field, message) => {
    expect(() => checkConnectionInternals(connectionWithFrameWithout(field))).toThrow(message);
  });

  it('checks on the client only what the client reads', () => {
    // The client never echoes close codes nor lingers: a missing sendCloseFrame does not stop it.
    expect(() => checkConnectionInternals(connectionWithout('sendCloseFrame'), 'client')).not.toThrow();
    expect(() => checkConnectionInternals(connectionWithout('processFrame'), 'client')).toThrow(/"processFrame"/);
    expect(() => checkConnectionInternals(connectionWithFrameWithout('closeStatus'), 'client')).toThrow(
      /"closeStatus"/,
    );
  });

  it('makes createServer fail with that message, before it listens', async () => {
    const prototype = websocket.connection.prototype as unknown as Record<string, unknown>;
    const sendCloseFrame = prototype.sendCloseFrame;
    delete prototype.sendCloseFrame;
    try {
      await expect(createServer()).rejects.toThrow(
        /WebSocket-Node 1\.0\.35 internal missing: connection "sendCloseFrame"/,
      );
    } finally {
      prototype.sendCloseFrame = sendCloseFrame;
    }
  });
});
