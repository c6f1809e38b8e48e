/**
 * The load generator's clients, one per wire: the `ws` client for the three WebSocket
 * contenders (so their client side is identical), socket.io-client for socket.io (a new
 * manager per client, one fixed transport), node:net with one JSON message per line for
 * the raw-TCP floor. Each counts the bytes its sockets carried, both directions.
 */
import { Agent, type ClientRequestArgs } from 'node:http';
import { type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { type Socket as IoSocket, io } from 'socket.io-client';
import WebSocket from 'ws';
import { LineSplitter } from '../lines.js';

/** `-deflate`: the client offers permessage-deflate and compresses every message it sends (threshold 0). */
export type ClientKind =
  | 'websocket'
  | 'websocket-deflate'
  | 'socketio-websocket'
  | 'socketio-websocket-deflate'
  | 'socketio-polling'
  | 'tcp';

/** What a compressing load client offers: compress everything, so each message it sends is compressed. */
const CLIENT_DEFLATE = { threshold: 0 } as const;

/** What a measurement wants to hear about; every handler is optional. */
export interface ClientHandlers {
  echo?(payload: unknown): void;
  broadcast?(payload: unknown): void;
  broadcastResult?(recipients: number): void;
}

export interface BenchClient {
  /** Resolves on `welcome`, rejects if the connection fails first. */
  readonly welcomed: Promise<void>;
  /** Resolves when the connection is gone, for any reason. */
  readonly closed: Promise<void>;
  /** Why it closed, once it has (for error messages). */
  closeReason?: string;
  handlers: ClientHandlers;
  echo(payload: unknown): void;
  broadcast(payload: unknown): void;
  /** Bytes read plus bytes written by every socket this client opened. */
  wireBytes(): number;
  close(): void;
}

/**
 * An http.Agent that remembers every socket it created, so a client's bytes on the wire
 * can be summed: the handshake request, every long-poll, the upgraded WebSocket.
 */
class CountingAgent extends Agent {
  readonly sockets_: Socket[] = [];
  /** wss:// and https://: TLS to the server, its certificate checked against `ca`. */
  private readonly ca: string | undefined;
  constructor(options: ConstructorParameters<typeof Agent>[0] = {}, secure?: { ca: string | undefined }) {
    super(options);
    this.ca = secure?.ca;
    // node:https takes only an agent of its own protocol.
    if (secure) (this as unknown as { protocol: string }).protocol = 'https:';
  }
  override createConnection(options: ClientRequestArgs, callback?: (error: Error | null, socket: Socket) => void) {
    const protocol = (this as unknown as { protocol: string }).protocol;
    const socket: Socket =
      protocol === 'https:'
        ? tlsConnect({ ...(options as object), ...(this.ca === undefined ? {} : { ca: this.ca }) } as never)
        : tcpConnect(options as never);
    socket.setNoDelay(true);
    this.sockets_.push(socket);
    callback?.(null, socket);
    return socket;
  }
  wireBytes(): number {
    let total = 0;
    for (const socket of this.sockets_) total += socket.bytesRead + socket.bytesWritten;
    return total;
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A client that fails before anyone awaits must not crash the load process.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

type ServerMessage = { type: string; payload?: unknown; recipients?: number };

/** One JSON message from the server, whatever the wire, into the handlers. */
function dispatch(client: { handlers: ClientHandlers }, welcome: Deferred, message: ServerMessage): void {
  switch (message.type) {
    case 'echo':
      client.handlers.echo?.(message.payload);
      return;
    case 'broadcast':
      client.handlers.broadcast?.(message.payload);
      return;
    case 'broadcastResult':
      client.handlers.broadcastResult?.(message.recipients ?? -1);
      return;
    case 'welcome':
      welcome.resolve();
      return;
    // join / leave / error: not measured
  }
}

function webSocketClient(url: string, ca: string | undefined, compress: boolean): BenchClient {
  const agent = new CountingAgent({}, url.startsWith('wss:') ? { ca } : undefined);
  const welcome = deferred();
  const closed = deferred();
  const ws = new WebSocket(url, 'echo-protocol', { perMessageDeflate: compress ? CLIENT_DEFLATE : false, agent });
  const client: BenchClient = {
    welcomed: welcome.promise,
    closed: closed.promise,
    handlers: {},
    echo: (payload) => ws.send(JSON.stringify({ type: 'echo', payload })),
    broadcast: (payload) => ws.send(JSON.stringify({ type: 'broadcast', payload })),
    wireBytes: () => agent.wireBytes(),
    close: () => ws.terminate(),
  };
  ws.on('message', (data, isBinary) => {
    if (!isBinary) dispatch(client, welcome, JSON.parse(String(data)) as ServerMessage);
  });
  ws.on('error', (error) => welcome.reject(error));
  ws.on('close', (code) => {
    client.closeReason = `close ${code}`;
    welcome.reject(new Error('closed before welcome'));
    closed.resolve();
  });
  return client;
}

function socketIoClient(
  url: string,
  transport: 'websocket' | 'polling',
  ca: string | undefined,
  compress = false,
): BenchClient {
  // Keep-alive for long-polling, as a browser does; xmlhttprequest-ssl would otherwise open
  // a new TCP connection for every poll.
  // An idle kept-alive socket is dropped after 1 s, well before node's http server closes it
  // at 5 s (keepAliveTimeout), so a POST never races the server's close, and the sockets of
  // thousands of idle clients' last sends do not linger.
  const agent = new CountingAgent(
    transport === 'polling' ? { keepAlive: true, timeout: 1000 } : {},
    url.startsWith('https:') ? { ca } : undefined,
  );
  const welcome = deferred();
  const closed = deferred();
  const socket: IoSocket = io(url.replace(/^ws/, 'http'), {
    forceNew: true,
    transports: [transport],
    upgrade: false,
    reconnection: false,
    agent: agent as never,
    timeout: 120_000,
    ...(ca === undefined ? {} : { ca }),
    // engine.io-client offers it by default; the plain contenders must not. Its type takes no false.
    perMessageDeflate: (compress ? CLIENT_DEFLATE : false) as { threshold: number },
  });
  const client: BenchClient = {
    welcomed: welcome.promise,
    closed: closed.promise,
    handlers: {},
    echo: (payload) => socket.emit('echo', { payload }),
    broadcast: (payload) => socket.emit('broadcast', { payload }),
    wireBytes: () => agent.wireBytes(),
    close: () => {
      // disconnect() sends engine.io's close packet (polling: in a POST); give it time to
      // leave before the agent's sockets go, or the server keeps the session until its ping
      // timeout. The client counts as closed at once ('disconnect' fires synchronously).
      socket.disconnect();
      setTimeout(() => agent.destroy(), 2000).unref();
    },
  };
  socket.on('welcome', () => welcome.resolve());
  socket.on('echo', (arg: { payload: unknown }) => client.handlers.echo?.(arg.payload));
  socket.on('broadcast', (arg: { payload: unknown }) => client.handlers.broadcast?.(arg.payload));
  socket.on('broadcastResult', (arg: { recipients: number }) => client.handlers.broadcastResult?.(arg.recipients));
  socket.on('connect_error', (error) => welcome.reject(error));
  socket.on('disconnect', (reason, details) => {
    client.closeReason = `disconnect: ${reason}${describeDisconnect(details)}`;
    welcome.reject(new Error('disconnected before welcome'));
    closed.resolve();
  });
  return client;
}

/**
 * What socket.io-client says beyond the reason: for "transport error", engine.io's
 * TransportError (e.g. "xhr poll error") with the HTTP status or the socket's error.
 */
function describeDisconnect(details: unknown): string {
  if (!details) return '';
  if (details instanceof Error) {
    const { description } = details as Error & { description?: unknown };
    const cause = description instanceof Error ? description.message : description;
    return ` (${details.message}${cause === undefined ? '' : `: ${String(cause)}`})`;
  }
  const { description } = details as { description?: unknown };
  return description === undefined ? '' : ` (${String(description)})`;
}

function tcpClient(url: string): BenchClient {
  const { hostname, port } = new URL(url);
  const welcome = deferred();
  const closed = deferred();
  const socket = tcpConnect({ host: hostname, port: Number(port), noDelay: true });
  const client: BenchClient = {
    welcomed: welcome.promise,
    closed: closed.promise,
    handlers: {},
    echo: (payload) => socket.write(`${JSON.stringify({ type: 'echo', payload })}\n`),
    broadcast: (payload) => socket.write(`${JSON.stringify({ type: 'broadcast', payload })}\n`),
    wireBytes: () => socket.bytesRead + socket.bytesWritten,
    close: () => socket.destroy(),
  };
  const lines = new LineSplitter((line) => dispatch(client, welcome, JSON.parse(line) as ServerMessage));
  socket.on('data', (chunk: Buffer) => lines.push(chunk));
  socket.on('error', (error) => welcome.reject(error));
  socket.on('close', () => {
    welcome.reject(new Error('closed before welcome'));
    closed.resolve();
  });
  return client;
}

/** `ca`: the certificate authority of a wss:// or https:// server. */
export function createClient(kind: ClientKind, url: string, ca?: string): BenchClient {
  switch (kind) {
    case 'websocket':
      return webSocketClient(url, ca, false);
    case 'websocket-deflate':
      return webSocketClient(url, ca, true);
    case 'socketio-websocket':
      return socketIoClient(url, 'websocket', ca);
    case 'socketio-websocket-deflate':
      return socketIoClient(url, 'websocket', ca, true);
    case 'socketio-polling':
      return socketIoClient(url, 'polling', ca);
    case 'tcp':
      return tcpClient(url);
  }
}
