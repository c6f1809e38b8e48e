import { Agent, request as httpRequest } from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import { LibraryInternalsError, type RealtimeServer, within } from '@socketlab/contract';
import { transports } from 'engine.io';
import { type Socket as ClientSocket, io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer } from '../src/index.js';
import {
  type ClientTransport,
  checkClientInternals,
  checkEngineInternals,
  checkNodeInternals,
  checkRequestLink,
  type EngineTransports,
} from '../src/internals.js';

/**
 * The start-up checks of internals.ts against the installed libraries, and against real
 * transports with one internal moved away (what an upgrade that renamed it would look like).
 */

type PollingTransport = ReturnType<EngineTransports['polling']>;
type EngineRequest = ConstructorParameters<EngineTransports['websocket']>[0];

/** engine.io's polling transport factory, with `move` applied to every transport it makes. */
function pollingWith(move: (transport: PollingTransport) => void): EngineTransports['polling'] {
  return Object.assign(
    (request: EngineRequest) => {
      const transport = transports.polling(request);
      move(transport);
      return transport;
    },
    { upgradesTo: transports.polling.upgradesTo },
  );
}

/** Moves a private member of a real transport to another name, as an upgrade renaming it would. */
function rename(transport: object, from: string, to: string): void {
  const fields = transport as Record<string, unknown>;
  fields[to] = fields[from];
  delete fields[from];
}

/** The real websocket transport, except that it keeps its ws socket under another name. */
class WebSocketTransportWithSocketMoved extends transports.websocket {
  constructor(request: EngineRequest) {
    super(request);
    rename(this, 'socket', 'wsSocket');
  }
}

describe('engine.io internals, checked at createServer', () => {
  it('are all there in the installed engine.io', () => {
    expect(() => checkEngineInternals()).not.toThrow();
  });

  it('names the websocket transport "socket" when it moved', () => {
    const moved = { ...transports, websocket: WebSocketTransportWithSocketMoved };
    expect(() => checkEngineInternals(moved)).toThrow(LibraryInternalsError);
    expect(() => checkEngineInternals(moved)).toThrow(
      /^engine\.io 6\.6 internal missing: websocket transport "socket" \(its ws socket\), used for bufferedAmount/,
    );
  });

  it('names the polling transport "res" when it moved', () => {
    const polling = pollingWith((transport) => {
      const onRequest = transport.onRequest.bind(transport);
      transport.onRequest = (request) => {
        onRequest(request);
        rename(transport, 'res', 'pendingResponse');
      };
    });
    expect(() => checkEngineInternals({ ...transports, polling })).toThrow(
      /^engine\.io 6\.6 internal missing: polling transport "res" \(the response of the pending GET\)/,
    );
  });

  it('names the polling transport "shouldClose" when it moved', () => {
    const queuedCloses: (() => void)[] = [];
    const polling = pollingWith((transport) => {
      const doClose = transport.doClose.bind(transport);
      transport.doClose = (fn) => {
        doClose(fn);
        const fields = transport as unknown as { shouldClose?: () => void };
        if (fields.shouldClose) queuedCloses.push(fields.shouldClose);
        rename(transport, 'shouldClose', 'queuedClose');
      };
    });
    try {
      expect(() => checkEngineInternals({ ...transports, polling })).toThrow(
        /^engine\.io 6\.6 internal missing: polling transport "shouldClose" \(a close queued for the next GET\)/,
      );
    } finally {
      // The queued close clears engine.io's 30 s close timer.
      for (const close of queuedCloses) close();
    }
  });

  it('makes createServer fail with that message, before it listens', async () => {
    const { websocket } = transports;
    // The very object engine.io's server creates its transports from.
    transports.websocket = WebSocketTransportWithSocketMoved;
    try {
      await expect(createServer()).rejects.toThrow(/engine\.io 6\.6 internal missing: websocket transport "socket"/);
    } finally {
      transports.websocket = websocket;
    }
  });
});

describe('engine.io-client, ws and Node internals, checked at connect', () => {
  let server: RealtimeServer | undefined;
  const sockets: ClientSocket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.disconnect();
    await server?.close();
    server = undefined;
  });

  /** A stock socket.io-client socket, connected over one transport, as the adapter's client opens it. */
  async function connected(transport: 'websocket' | 'polling'): Promise<ClientTransport> {
    server ??= await createServer();
    const socket = io(server.url, { forceNew: true, reconnection: false, transports: [transport], upgrade: false });
    sockets.push(socket);
    await within(new Promise((resolve) => socket.once('connect', () => resolve(undefined))), 10_000, 'connect');
    return socket.io.engine.transport;
  }

  /** A copy of a real object whose own `name` reads as undefined; everything else is the original's. */
  const without = <T extends object>(original: T, name: string): T =>
    Object.create(original, { [name]: { value: undefined } }) as T;

  it('are all there in the installed versions, over websocket and polling', async () => {
    await expect(checkClientInternals(await connected('websocket'))).resolves.toBeUndefined();
    await expect(checkClientInternals(await connected('polling'))).resolves.toBeUndefined();
    await expect(checkNodeInternals()).resolves.toBeUndefined();
    // And the adapter's own client, which runs them itself.
    for (const transport of ['websocket', 'polling'] as const) {
      const client = await connect(server!.url, { transport });
      expect(await client.receive('welcome')).toMatchObject({ type: 'welcome' });
      client.terminate();
    }
  });

  it('names engine.io-client\'s "ws" and ws\'s "_socket" when they moved', async () => {
    const transport = await connected('websocket');
    await expect(checkClientInternals(without(transport, 'ws'))).rejects.toThrow(
      /^engine\.io-client 6\.6 internal missing: websocket transport "ws" \(its ws WebSocket\), used for terminate/,
    );
    const ws = (transport as unknown as { ws: object }).ws;
    const withoutTcp = Object.create(transport, { ws: { value: without(ws, '_socket') } }) as ClientTransport;
    await expect(checkClientInternals(withoutTcp)).rejects.toThrow(LibraryInternalsError);
    await expect(checkClientInternals(withoutTcp)).rejects.toThrow(
      /^ws 8 internal missing: WebSocket "_socket" \(its TCP socket\), used for pauseReading/,
    );
  });

  it('names the polling transport "pause" when it moved', async () => {
    const transport = await connected('polling');
    await expect(checkClientInternals(without(transport, 'pause'))).rejects.toThrow(
      /^engine\.io-client 6\.6 internal missing: polling transport "pause", used for pauseReading/,
    );
  });

  it('names Node\'s "_httpMessage" on a real request\'s socket without it', async () => {
    server ??= await createServer();
    const request = httpRequest(`${server.url}socket.io/?EIO=4&transport=polling`, { agent: new Agent() });
    const socket = await new Promise<NetSocket>((resolve) => request.once('socket', resolve));
    const fields = socket as { _httpMessage?: unknown };
    const link = fields._httpMessage;
    try {
      expect(() => checkRequestLink(socket, request)).not.toThrow();
      delete fields._httpMessage;
      expect(() => checkRequestLink(socket, request)).toThrow(
        /^Node 20 internal missing: HTTP client socket "_httpMessage" \(the request it carries\), used for terminate over polling/,
      );
    } finally {
      // Node's own close handling reads it too.
      fields._httpMessage = link;
      request.on('error', () => {});
      request.destroy();
    }
  });
});
