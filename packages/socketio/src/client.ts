import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  CloseCode,
  type CloseInfo,
  type ConnectOptions,
  DEFAULTS,
  fromEvent,
  HandshakeError,
  Inbox,
  type Incoming,
  type RealtimeClient,
  tlsClientOptions,
  wsLibraryDeflate,
} from '@socketlab/contract';
import { io, type Socket } from 'socket.io-client';
import { checkClientInternals, clientWsOf, pausePolling, pauseTcp, requestOn } from './internals.js';

/** Reasons socket.io gives for a disconnect somebody asked for; anything else was abnormal. */
const ORDERLY = new Set(['io server disconnect', 'io client disconnect']);

/** A contract client on socket.io-client, over one transport, never upgrading or reconnecting. */
export function connect(url: string, options: ConnectOptions = {}): Promise<RealtimeClient> {
  const transportName = options.transport ?? 'websocket';
  // Polling: this client's own connections, so terminate() can cut exactly them. No
  // keep-alive pool: Node's agent keeps a socket whose request was aborted before it
  // connected, never used, and a server that closes such a silent connection (ours after its
  // head timeout) races the agent's next reuse of it, which fails the session with a
  // "transport error"; Node's agent does not retry on a reused socket as browsers do.
  const tls = tlsClientOptions(options);
  const secure = url.startsWith('https:');
  const agent =
    transportName !== 'polling'
      ? undefined
      : secure
        ? new HttpsAgent({ keepAlive: false, ...tls })
        : new Agent({ keepAlive: false });
  // The URL's path, when not `/`, is the server's engine.io path (`createServer({ path })`):
  // the contract uses only the main namespace.
  const target = new URL(url);
  const enginePath = target.pathname === '/' ? undefined : target.pathname;
  const socket: Socket = io(enginePath === undefined ? url : target.origin, {
    forceNew: true,
    reconnection: false,
    transports: [transportName],
    upgrade: false,
    timeout: options.timeout ?? DEFAULTS.handshakeTimeout,
    // engine.io-client offers permessage-deflate by default; the contract's client offers it when
    // asked. Its type allows only an object, but it hands the value to ws as is, and ws takes false.
    perMessageDeflate: wsLibraryDeflate(options.perMessageDeflate) as { threshold: number },
    // Node's XHR and ws both send these; an Origin header is what a browser would send.
    ...(options.origin === undefined ? {} : { extraHeaders: { Origin: options.origin } }),
    ...(options.maxPayload === undefined ? {} : { maxPayload: options.maxPayload }),
    ...(agent === undefined ? {} : { agent: agent as unknown as string }),
    ...(enginePath === undefined ? {} : { path: enginePath }),
    // Node's ws (websocket) and the polling XHR both take these (PEM Buffers too).
    ...(tls as { ca?: string; rejectUnauthorized?: boolean }),
  });
  const inbox = new Inbox();
  let terminated = false;
  socket.onAny((event: string, ...args: unknown[]) => {
    inbox.push(fromEvent(event, args[0]) as unknown as Incoming);
  });
  let settleClosed: (info: CloseInfo) => void = () => {};
  const closed = new Promise<CloseInfo>((resolve) => {
    settleClosed = (info) => {
      inbox.close(info);
      resolve(info);
    };
  });
  socket.on('disconnect', (reason) => {
    const code = !terminated && ORDERLY.has(reason) ? CloseCode.normal : CloseCode.abnormal;
    settleClosed({ code, reason });
  });

  return new Promise((resolve, reject) => {
    socket.once('connect_error', (error) => {
      const status = statusOf(error);
      socket.disconnect();
      settleClosed({ code: CloseCode.abnormal, reason: error.message });
      reject(
        new HandshakeError(
          status === undefined
            ? `connection failed: ${error.message}`
            : `server refused the handshake with HTTP ${status}`,
          status,
        ),
      );
    });
    socket.once('connect', () => {
      // The transport never changes: no upgrade was asked for.
      const transport = socket.io.engine.transport;
      const ws = clientWsOf(transport);
      const client: RealtimeClient = {
        protocol: '',
        send: (message) => {
          const { type, ...rest } = message;
          socket.emit(type, rest);
        },
        emit: (event, ...args) => {
          socket.emit(event, ...args);
        },
        sendBinary: () => {
          throw new Error('socket.io has no top-level binary message: send binary inside a payload');
        },
        receive: (type, timeoutMs) => inbox.take(type, timeoutMs),
        pending: () => inbox.pending(),
        members: inbox.members,
        closed,
        close: () => {
          socket.disconnect();
          return closed;
        },
        pauseReading: () => {
          if (ws) {
            // A paused TCP socket: the server's pings and messages pile up unread.
            pauseTcp(ws);
          } else {
            // No further polls (the one in flight completes): the server keeps everything queued.
            pausePolling(transport);
          }
        },
        terminate: () => {
          terminated = true;
          if (ws) {
            ws.terminate();
            return;
          }
          // A paused transport sends nothing more (not even the disconnect packet); then the
          // client's connections are cut, like a killed browser tab's: the server sees its
          // pending poll end abruptly.
          pausePolling(transport);
          if (agent) cutConnections(agent);
          socket.disconnect();
        },
      };
      // Fails naming the engine.io-client, ws or Node internal an upgrade moved (see internals.ts).
      checkClientInternals(transport).then(
        () => resolve(client),
        (error: unknown) => {
          socket.disconnect();
          reject(error);
        },
      );
    });
  });
}

/**
 * Destroys every connection of a polling client. A poll request the client just issued is
 * written first (Node assigns its socket on the next tick and writes it after), so the
 * server sees that poll end prematurely rather than never seeing it at all.
 */
function cutConnections(agent: Agent): void {
  setImmediate(() => {
    for (const sockets of Object.values(agent.sockets)) {
      for (const socket of sockets ?? []) {
        const request = requestOn(socket);
        if (request && !request.writableFinished) request.once('finish', () => socket.destroy());
        else socket.destroy();
      }
    }
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  });
}

/**
 * The HTTP status of a refused handshake, from socket.io-client's connect_error:
 * polling reports the XHR status as `description`; the websocket transport in Node
 * passes on ws's error event, whose message names the unexpected response.
 */
function statusOf(error: Error): number | undefined {
  const { description } = error as Error & { description?: unknown };
  if (typeof description === 'number' && description > 0) return description;
  const text =
    typeof description === 'object' && description !== null && 'message' in description
      ? String((description as { message: unknown }).message)
      : error.message;
  const match = /Unexpected server response: (\d{3})/.exec(text);
  return match ? Number(match[1]) : undefined;
}
