import { Agent } from 'node:http';
import { Socket as NetSocket } from 'node:net';
import { within } from '@socketlab/conformance';
import type { RealtimeServer } from '@socketlab/contract';
import { transports } from 'engine.io';
import { type Socket as ClientSocket, io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer } from '../src/index.js';
import {
  type ClientTransport,
  checkClientInternals,
  checkEngineInternals,
  checkRequestLink,
  type EngineTransports,
  LibraryInternalsError,
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
  async function connected(transport: 'websocket' | 'polling', agent?: Agent): Promise<ClientTransport> {
    server ??= await createServer();
    const socket = io(server.url, {
      forceNew: true,
      reconnection: false,
      transports: [transport],
      upgrade: false,
      ...(agent === undefined ? {} : { agent: agent as unknown as string }),
    });
    sockets.push(socket);
    await within(new Promise((resolve) => socket.once('connect', () => resolve(undefined))), 10_000, 'connect');
    return socket.io.engine.transport;
  }

  /** A copy of a real object whose own `name` reads as undefined; everything else is the original's. */
  const without = <T extends object>(original: T, name: string): T =>
    Object.create(original, { [name]: { value: undefined } }) as T;

  it('are all there in the installed versions, over websocket and polling', async () => {
    const websocket = await connected('websocket');
    expect(() => checkClientInternals(websocket, undefined)).not.toThrow();
    const agent = new Agent({ keepAlive: true });
    const polling = await connected('polling', agent);
    expect(() => checkClientInternals(polling, agent)).not.toThrow();
    // And the adapter's own client, which runs them itself.
    for (const transportName of ['websocket', 'polling'] as const) {
      const client = await connect(server!.url, { transport: transportName });
      expect(await client.receive('welcome')).toMatchObject({ type: 'welcome' });
      client.terminate();
    }
  });

  it('names engine.io-client\'s "ws" and ws\'s "_socket" when they moved', async () => {
    const transport = await connected('websocket');
    expect(() => checkClientInternals(without(transport, 'ws'), undefined)).toThrow(
      /^engine\.io-client 6\.6 internal missing: websocket transport "ws" \(its ws WebSocket\), used for terminate/,
    );
    const ws = (transport as unknown as { ws: object }).ws;
    const withoutTcp = Object.create(transport, { ws: { value: without(ws, '_socket') } }) as ClientTransport;
    expect(() => checkClientInternals(withoutTcp, undefined)).toThrow(
      /^ws 8 internal missing: WebSocket "_socket" \(its TCP socket\), used for pauseReading/,
    );
  });

  it('names the polling transport "pause", the agent and Node\'s "_httpMessage" when they are not there', async () => {
    const agent = new Agent({ keepAlive: true });
    const transport = await connected('polling', agent);
    expect(() => checkClientInternals(without(transport, 'pause'), agent)).toThrow(
      /^engine\.io-client 6\.6 internal missing: polling transport "pause", used for pauseReading/,
    );
    // An agent the polls did not go through.
    expect(() => checkClientInternals(transport, new Agent())).toThrow(
      /^engine\.io-client 6\.6 internal missing: the "agent" option/,
    );
    // The agent's sockets have it (above); a socket Node's HTTP client never carried a request on does not.
    expect(() => checkRequestLink(new NetSocket())).toThrow(
      /^Node 20 internal missing: HTTP client socket "_httpMessage" \(the request it carries\)/,
    );
  });
});
