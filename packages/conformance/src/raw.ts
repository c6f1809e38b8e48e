import { createHash, randomBytes } from 'node:crypto';
import { type Socket, connect as tcpConnect } from 'node:net';

/**
 * A deliberately small, independent RFC 6455 peer for the conformance suite: it sends
 * exactly the bytes a test asks for (bad handshakes, unmasked or reserved frames) and
 * reads back what the server really put on the wire. It shares no code with any adapter.
 */

export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  /** RSV1..3 as the three bits 0b100, 0b010, 0b001. */
  rsv?: number;
  /** Clients must mask; false sends an unmasked (illegal) client frame. */
  mask?: boolean;
}

export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const mask = spec.mask ?? true;
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  head[0] = ((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode;
  head[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) head.writeUInt16BE(length, 2);
  if (lengthBytes === 8) head.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + lengthBytes);
  const masked = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) masked[i] = (payload[i] as number) ^ (key[i & 3] as number);
  return Buffer.concat([head, masked]);
}

export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code);
  return Buffer.concat([head, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

export function acceptKeyFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

export function randomKey(): string {
  return randomBytes(16).toString('base64');
}

export interface HttpHead {
  status: number;
  headers: Record<string, string>;
}

export interface UpgradeSpec {
  path?: string;
  method?: string;
  key?: string | null;
  version?: string | null;
  protocols?: string[];
  origin?: string;
  extraHeaders?: Record<string, string>;
}

export function upgradeRequestText(host: string, spec: UpgradeSpec = {}): string {
  const lines = [
    `${spec.method ?? 'GET'} ${spec.path ?? '/'} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
  ];
  if (spec.key !== null) lines.push(`Sec-WebSocket-Key: ${spec.key ?? randomKey()}`);
  if (spec.version !== null) lines.push(`Sec-WebSocket-Version: ${spec.version ?? '13'}`);
  if (spec.protocols?.length) lines.push(`Sec-WebSocket-Protocol: ${spec.protocols.join(', ')}`);
  if (spec.origin !== undefined) lines.push(`Origin: ${spec.origin}`);
  for (const [name, value] of Object.entries(spec.extraHeaders ?? {})) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** One raw TCP connection with a byte buffer that every read works from. */
export class RawPeer {
  private buffer = Buffer.alloc(0);
  private ended = false;
  private notify: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.notify?.();
    });
    const end = (): void => {
      this.ended = true;
      this.notify?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ port, host }, () => {
        socket.off('error', reject);
        resolve(new RawPeer(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Opens a connection and completes a valid handshake (echo-protocol offered). */
  static async upgraded(port: number, spec: UpgradeSpec = {}): Promise<RawPeer> {
    const peer = await RawPeer.open(port);
    peer.write(upgradeRequestText(`127.0.0.1:${port}`, { protocols: ['echo-protocol'], ...spec }));
    const head = await peer.readHead();
    if (head.status !== 101) throw new Error(`expected 101 Switching Protocols, got ${head.status}`);
    return peer;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  sendFrame(spec: FrameSpec): void {
    this.write(encodeFrame(spec));
  }

  /** The HTTP response head; its body, if any, stays in the buffer. */
  readHead(timeoutMs = 5_000): Promise<HttpHead> {
    return this.waitFor('an HTTP response head', timeoutMs, () => {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      this.buffer = this.buffer.subarray(end + 4);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      return { status, headers };
    });
  }

  readFrame(timeoutMs = 5_000): Promise<Frame> {
    return this.waitFor('a frame', timeoutMs, () => {
      const parsed = parseFrame(this.buffer);
      if (!parsed) return undefined;
      this.buffer = this.buffer.subarray(parsed.size);
      return parsed.frame;
    });
  }

  /** Reads frames, skipping data frames, until a close frame or the end of the socket. */
  async readClose(timeoutMs = 5_000): Promise<{ code: number; reason: string; frame: boolean }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let frame: Frame;
      try {
        frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      } catch (error) {
        if (this.ended && parseFrame(this.buffer) === undefined) return { code: 1006, reason: '', frame: false };
        throw error;
      }
      if (frame.opcode !== Opcode.close) continue;
      if (frame.payload.length < 2) return { code: 1005, reason: '', frame: true };
      return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8'), frame: true };
    }
  }

  /** Resolves when the server has closed the TCP connection. */
  waitEnd(timeoutMs = 5_000): Promise<void> {
    return this.waitFor('the server to close the connection', timeoutMs, () => (this.ended ? true : undefined)).then(
      () => undefined,
    );
  }

  destroy(): void {
    this.socket.destroy();
  }

  private waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const value = check();
        if (value === undefined) return false;
        clearTimeout(timer);
        this.notify = undefined;
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        this.notify = undefined;
        reject(new Error(`raw peer: no ${what} within ${timeoutMs} ms${this.ended ? ' (connection ended)' : ''}`));
      }, timeoutMs);
      if (attempt()) return;
      this.notify = () => {
        if (!attempt() && this.ended) {
          clearTimeout(timer);
          this.notify = undefined;
          reject(new Error(`raw peer: connection ended before ${what}`));
        }
      };
    });
  }
}

function parseFrame(buffer: Buffer): { frame: Frame; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  const b0 = buffer[0] as number;
  const b1 = buffer[1] as number;
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  const key = masked ? buffer.subarray(offset, offset + 4) : undefined;
  if (masked) offset += 4;
  if (buffer.length < offset + length) return undefined;
  const payload = Buffer.from(buffer.subarray(offset, offset + length));
  if (key) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
  return {
    frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload },
    size: offset + length,
  };
}
