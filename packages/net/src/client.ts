import { randomBytes } from 'node:crypto';
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  type ConnectOptions,
  DEFAULTS,
  HandshakeError,
  Inbox,
  type PerMessageDeflateOptions,
  parseServerText,
  type RealtimeClient,
  resolvePerMessageDeflate,
  SUBPROTOCOL,
  tlsClientOptions,
  webSocketClient,
} from '@socketlab/contract';
import { Connection } from './connection.js';
import { CLIENT_MAX_PAYLOAD } from './constants.js';
import { checkServerResponse, HeadReader, parseResponseHead, upgradeRequest } from './handshake.js';
import { clientOffer, PerMessageDeflate } from './permessage-deflate.js';

/** A contract client: the RFC 6455 client handshake by hand (over node:tls for wss://), then masked frames. */
export function connect(url: string, options: ConnectOptions = {}): Promise<RealtimeClient> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new HandshakeError(`not a URL: ${url}`));
  }
  const secure = target.protocol === 'wss:';
  if (!secure && target.protocol !== 'ws:') {
    return Promise.reject(new HandshakeError(`only ws:// and wss:// URLs are supported, got ${target.protocol}`));
  }
  const protocols = options.protocols ?? [SUBPROTOCOL];
  let deflate: Required<PerMessageDeflateOptions> | false;
  try {
    deflate = resolvePerMessageDeflate(options.perMessageDeflate);
  } catch (error) {
    return Promise.reject(error);
  }
  const key = randomBytes(16).toString('base64');
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const socket = secure
    ? tlsConnect({
        host,
        port: Number(target.port || 443),
        // SNI takes host names only, never an IP literal (RFC 6066 section 3).
        ...(isIP(host) === 0 ? { servername: host } : {}),
        ...tlsClientOptions(options),
      }).setNoDelay(true)
    : tcpConnect({ host, port: Number(target.port || 80), noDelay: true });

  return new Promise((resolve, reject) => {
    const reader = new HeadReader();
    const settle = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (message: string, status?: number): void => {
      settle();
      // Whatever the dying socket still reports must not become an uncaught 'error'.
      socket.on('error', () => {});
      socket.destroy();
      reject(new HandshakeError(message, status));
    };
    const onError = (error: Error): void => fail(`connection failed: ${error.message}`);
    const onClose = (): void => fail('connection closed during the handshake');
    const onData = (chunk: Buffer): void => {
      const result = reader.push(chunk);
      if (result.kind === 'incomplete') return;
      if (result.kind === 'tooLarge') {
        fail('response head too large');
        return;
      }
      const response = parseResponseHead(result.head);
      if (!response.ok) {
        fail(`malformed response: ${response.reason}`);
        return;
      }
      const verdict = checkServerResponse(response.value, key, protocols, deflate);
      if (!verdict.ok) {
        fail(verdict.reason, verdict.status);
        return;
      }
      settle();
      const maxPayload = options.maxPayload ?? CLIENT_MAX_PAYLOAD;
      const compression =
        deflate !== false && verdict.deflate !== undefined
          ? new PerMessageDeflate(verdict.deflate, 'client', deflate, maxPayload)
          : undefined;
      resolve(open(socket, maxPayload, verdict.protocol, result.rest, compression));
    };
    const timer = setTimeout(() => fail('handshake timed out'), options.timeout ?? DEFAULTS.handshakeTimeout);
    // TLS: the request goes once the TLS handshake is done (the certificate checked).
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      const path = `${target.pathname}${target.search}`;
      const extensions = deflate === false ? undefined : clientOffer(deflate);
      socket.write(upgradeRequest({ host: target.host, path, key, protocols, origin: options.origin, extensions }));
    });
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('data', onData);
  });
}

function open(
  socket: Socket,
  maxPayload: number,
  protocol: string,
  head: Buffer,
  deflate: PerMessageDeflate | undefined,
): RealtimeClient {
  const inbox = new Inbox();
  const conn = new Connection(socket, {
    role: 'client',
    maxPayload,
    deflate,
    listener: {
      text: (_, text) => inbox.push(parseServerText(text)),
      binary: (_, data) => inbox.push({ type: 'binary', data: new Uint8Array(data) }),
    },
  });
  const closed = conn.closed.then((info) => {
    inbox.close(info);
    return info;
  });
  conn.start(head);
  return webSocketClient({
    protocol,
    inbox,
    closed,
    sendText: (text) => conn.sendText(text),
    sendBinary: (data) => conn.sendBinary(data),
    startClose: (code = 1000, reason = '') => conn.close(code, reason),
    pauseReading: () => conn.socket.pause(),
    terminate: () => conn.terminate(),
  });
}
