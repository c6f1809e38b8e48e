import { EventEmitter } from 'node:events';
import { ClientRequest, type ServerResponse } from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import { Duplex } from 'node:stream';
import { LibraryInternalsError } from '@socketlab/contract';
import { type Socket as EngineSocket, transports } from 'engine.io';
import type { Socket as ClientSocket } from 'socket.io-client';

/**
 * Every private part of engine.io 6.6, engine.io-client 6.6, ws and Node that this adapter reads,
 * each behind one accessor, and the checks that they are still where the adapter expects them
 * (the package README lists them with the reason for each). An upgrade that moves one fails
 * `createServer` or `connect` with a message naming it, instead of silently losing a limit or a
 * timeout. The checks only test shapes, as engine.io's own `_canSendPreEncodedFrame` does:
 * what the adapter does with them is covered by its tests.
 */

/** The versions this adapter is written for, as the error names them. */
const ENGINE_IO = 'engine.io 6.6';
const ENGINE_IO_CLIENT = 'engine.io-client 6.6';
const WS = 'ws 8';
const NODE = 'Node 20';

function missing(library: string, internal: string, usedFor: string): LibraryInternalsError {
  return new LibraryInternalsError(
    `${library} internal missing: ${internal}, used for ${usedFor}. A library upgrade moved it; ` +
      'see "Private internals" in the @socketlab/socketio README',
  );
}

// engine.io (server)

/** The `ws` socket under engine.io's websocket transport: the parts of ws's public API the adapter uses. */
export interface WsSocket extends NodeJS.EventEmitter {
  readonly bufferedAmount: number;
  readonly readyState: number;
  terminate(): void;
}

/** engine.io 6.6 transports, with the private members the adapter reads. */
interface WebSocketTransportInternals {
  socket?: WsSocket;
}
interface PollingTransportInternals {
  res?: ServerResponse | null;
  shouldClose?: (() => void) | null;
}

/** engine.io's websocket transport keeps its `ws` socket in `socket`; undefined on polling. */
export function wsSocketOf(conn: EngineSocket): WsSocket | undefined {
  const { transport } = conn;
  return transport.name === 'websocket' ? (transport as unknown as WebSocketTransportInternals).socket : undefined;
}

/** The TCP socket of the pending GET's response, which the polling transport keeps in `res` until it answers. */
export function pollResponseSocketOf(conn: EngineSocket): NetSocket | undefined {
  const { transport } = conn;
  if (transport.name !== 'polling') return undefined;
  return ((transport as unknown as PollingTransportInternals).res?.socket as NetSocket | null | undefined) ?? undefined;
}

/**
 * Runs now a polling close that could not be sent yet (no GET pending): the transport keeps it
 * in `shouldClose` and would otherwise run it after a fixed 30 s.
 */
export function runQueuedPollingClose(conn: EngineSocket): void {
  const { transport } = conn;
  if (transport.name === 'polling') (transport as unknown as PollingTransportInternals).shouldClose?.();
}

/** The transport classes engine.io creates its sessions' transports from (its `transports` export). */
export type EngineTransports = Pick<typeof transports, 'websocket' | 'polling'>;

type EngineRequest = Parameters<EngineTransports['polling']>[0];

/** A request as engine.io hands it to a transport: only the fields the probed code paths read. */
function probeRequest(fields: object): EngineRequest {
  return Object.assign(new EventEmitter(), { _query: { EIO: '4' } }, fields) as unknown as EngineRequest;
}

/**
 * Builds real engine.io transports (the classes its server uses) in the states where the adapter
 * reads them, and checks that each private member is there with the expected value:
 * `socket` of a websocket transport, `res` of a polling transport with a GET pending, and
 * `shouldClose` of a polling transport closed with no GET pending. Throws a
 * `LibraryInternalsError` naming the first one that is not.
 */
export function checkEngineInternals(engineTransports: EngineTransports = transports): void {
  const ws = new EventEmitter();
  const websocket = new engineTransports.websocket(probeRequest({ websocket: ws }));
  if ((websocket as unknown as WebSocketTransportInternals).socket !== ws) {
    throw missing(ENGINE_IO, 'websocket transport "socket" (its ws socket)', 'bufferedAmount and terminate');
  }

  const response = {} as ServerResponse;
  const polling = engineTransports.polling(probeRequest({}));
  polling.onRequest(probeRequest({ method: 'GET', res: response }));
  if ((polling as unknown as PollingTransportInternals).res !== response) {
    throw missing(ENGINE_IO, 'polling transport "res" (the response of the pending GET)', 'bufferedAmount');
  }

  // Not writable (no GET yet): engine.io queues the close for the next GET, and a 30 s timer.
  const idle = engineTransports.polling(probeRequest({}));
  let closed = false;
  idle.close(() => {
    closed = true;
  });
  const { shouldClose } = idle as unknown as PollingTransportInternals;
  // Runs the queued close, which also clears its timer.
  if (typeof shouldClose === 'function') shouldClose();
  if (!closed) {
    // engine.io's 30 s close timer, if it set one, is left running: only on a version this adapter does not know.
    throw missing(ENGINE_IO, 'polling transport "shouldClose" (a close queued for the next GET)', 'terminate');
  }
}

// engine.io-client, ws and Node (client)

/** The transport of a connected socket.io-client socket. */
export type ClientTransport = ClientSocket['io']['engine']['transport'];

/** The ws WebSocket under engine.io-client's websocket transport (Node): `ws` there, its TCP socket in ws's `_socket`. */
export interface ClientWs {
  terminate(): void;
  _socket?: { pause(): void } | null;
}
interface ClientWebSocketTransportInternals {
  ws?: ClientWs | null;
}

/** engine.io-client's websocket transport keeps its ws WebSocket in `ws` (protected); undefined on polling. */
export function clientWsOf(transport: ClientTransport): ClientWs | undefined {
  if (transport.name !== 'websocket') return undefined;
  return (transport as unknown as ClientWebSocketTransportInternals).ws ?? undefined;
}

/** Pauses the TCP socket under a ws WebSocket (ws keeps it in `_socket`): nothing more is read. */
export function pauseTcp(ws: ClientWs): void {
  ws._socket?.pause();
}

/** Stops a polling transport from polling again (its `pause`, which the transport's typings list but no docs). */
export function pausePolling(transport: ClientTransport): void {
  (transport as unknown as { pause(onPause: () => void): void }).pause(() => {});
}

/** Node's link from a client socket to the request it carries now (`_httpMessage`, not in @types/node). */
interface RequestLinkInternals {
  _httpMessage?: ClientRequest | null;
}

/** The request a client socket carries now, if any. */
export function requestOn(socket: NetSocket): ClientRequest | undefined {
  return (socket as RequestLinkInternals)._httpMessage ?? undefined;
}

/**
 * Checks what the client reads under a connected socket.io-client socket. websocket:
 * engine.io-client's `ws` (with `terminate`) and ws's `_socket` (with `pause`). polling: the
 * transport's `pause`, and Node's `_httpMessage` (`checkNodeInternals`). Rejects with a
 * `LibraryInternalsError` naming the first one missing.
 */
export async function checkClientInternals(transport: ClientTransport): Promise<void> {
  if (transport.name === 'websocket') {
    const ws = clientWsOf(transport);
    if (typeof ws?.terminate !== 'function') {
      throw missing(ENGINE_IO_CLIENT, 'websocket transport "ws" (its ws WebSocket)', 'terminate');
    }
    if (typeof ws._socket?.pause !== 'function') {
      throw missing(WS, 'WebSocket "_socket" (its TCP socket)', 'pauseReading');
    }
    return;
  }
  if (typeof (transport as unknown as { pause?: unknown }).pause !== 'function') {
    throw missing(ENGINE_IO_CLIENT, 'polling transport "pause"', 'pauseReading, terminate');
  }
  await checkNodeInternals();
}

/** Throws unless Node has linked a client socket to the request it carries (`_httpMessage`). */
export function checkRequestLink(socket: object, request: ClientRequest): void {
  if (requestOn(socket as NetSocket) !== request) {
    throw missing(NODE, 'HTTP client socket "_httpMessage" (the request it carries)', 'terminate over polling');
  }
}

let nodeChecked: Promise<void> | undefined;

/**
 * Starts a request over an in-memory stream (nothing leaves the process) and checks, once Node
 * has handed the stream to it (its `socket` event), that Node linked the two. A socket the agent
 * has just opened is linked only on the next tick, so the polling agent's own sockets cannot
 * tell. Once per process: Node does not change under a running client.
 */
export function checkNodeInternals(): Promise<void> {
  nodeChecked ??= new Promise<void>((resolve, reject) => {
    const stream = new Duplex({
      read() {},
      write(_chunk, _encoding, done) {
        done();
      },
    });
    const request = new ClientRequest({ host: '127.0.0.1', createConnection: () => stream as NetSocket });
    // The destroy below ends the request with "socket hang up".
    request.on('error', () => {});
    request.once('socket', () => {
      try {
        checkRequestLink(stream, request);
        resolve();
      } catch (error) {
        reject(error);
      } finally {
        request.destroy();
      }
    });
  });
  return nodeChecked;
}
